"""Data exports of the dashboard: responses and cases as CSV or XLSX.

``frames`` reads the rows (with the dashboard's filters) into pandas DataFrames,
``writers`` writes a DataFrame as a spreadsheet file. Both only read; the export jobs
(large exports built by a task) live in ``metrics.services.exports``.
"""
