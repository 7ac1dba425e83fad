"""What a bureau takes away: patch lists, chips, the report.

- :mod:`~weipian.deliver.tables` — XLSX and CSV with Chinese headers
- :mod:`~weipian.deliver.vector` — Shapefile, KML, GeoJSON
- :mod:`~weipian.deliver.lists` — all patch lists at once
- :mod:`~weipian.deliver.route` — visiting order for field crews
- :mod:`~weipian.deliver.chips` — before/after evidence chips
- :mod:`~weipian.deliver.report` — the offline HTML report

The township statistics and their chart are :mod:`weipian.stats`.
"""
