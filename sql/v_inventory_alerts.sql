-- v_inventory_alerts: stock-outs, low cover and reorders due on the latest inventory snapshot
-- grain: one row per product and warehouse on the latest snapshot day that needs attention
-- key: stock_code, warehouse
-- Low cover means fewer than 7 days of cover at the trailing 28-day sales rate while still in
-- stock; a product that did not sell has no days of cover (NULL) and is never low on cover.

with

health as (

    select
        snapshot_date,
        stock_code,
        warehouse,
        on_hand,
        on_order,
        avg_daily_units_28d,
        days_of_cover,
        is_stock_out,
        needs_reorder
    from inventory_health

),

latest_snapshot as (

    select max(snapshot_date) as snapshot_date
    from health

),

flagged as (

    select
        health.*,
        coalesce(not health.is_stock_out and health.days_of_cover < 7, false) as is_low_cover
    from health
    inner join latest_snapshot
        on health.snapshot_date = latest_snapshot.snapshot_date

),

final as (

    select
        snapshot_date,
        stock_code,
        warehouse,
        case
            when is_stock_out then 'stock_out'
            when is_low_cover then 'low_cover'
            else 'reorder'
        end as alert_type,
        case
            when is_stock_out then 1
            when is_low_cover then 2
            else 3
        end as alert_priority,
        on_hand,
        on_order,
        avg_daily_units_28d,
        days_of_cover,
        is_stock_out,
        is_low_cover,
        needs_reorder
    from flagged
    where is_stock_out or is_low_cover or needs_reorder

)

select * from final
