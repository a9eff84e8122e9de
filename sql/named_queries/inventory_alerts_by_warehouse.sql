-- title: Inventory alerts by warehouse
-- description: Stock-outs, low cover and reorders due on the latest snapshot, counted per warehouse.
select
    warehouse,
    count_if(is_stock_out) as stock_outs,
    count_if(is_low_cover) as low_cover,
    count_if(needs_reorder) as reorders_due,
    count(*) as alerts
from v_inventory_alerts
group by warehouse
order by alerts desc
