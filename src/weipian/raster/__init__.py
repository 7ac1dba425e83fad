"""Pure array functions: ndarray in, ndarray out, no files.

- :mod:`~weipian.raster.register` — co-registration (phase correlation, shift)
- :mod:`~weipian.raster.radiometry` — relative radiometric normalisation
- :mod:`~weipian.raster.difference` — smoothing, noise spread, change magnitude, CVA + Otsu
- :mod:`~weipian.raster.clouds` — clouds and cloud shadows
- :mod:`~weipian.raster.morphology` — cleaning and growing flag masks

The change itself is found by the learned model (:mod:`weipian.learn`).
"""
