"""Reference layers and overlay: reading, repairing and intersecting polygons.

- :mod:`~weipian.vector.layers` — find, read, validate and reproject the reference layers
- :mod:`~weipian.vector.overlay` — patch × layer overlap areas, projected CRS for areas
"""
