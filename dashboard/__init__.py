"""The analysts' Streamlit dashboard and its helpers."""
