# weipian: make install | make demo | make test | make bench
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench sample clean browser postgis docs model vhr-model coarse-model lodo cover-model

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,train]"
	touch $(STAMP)

sample_data/.stamp: $(STAMP) src/weipian/testing/scenes.py
	$(PY) -m weipian.testing.scenes sample_data
	touch sample_data/.stamp

sample: sample_data/.stamp

demo: $(STAMP) sample_data/.stamp
	rm -rf out/demo
	$(VENV)/bin/weipian run sample_data/before.tif sample_data/after.tif \
		--layers sample_data/layers -o out/demo
	@echo "demo written to out/demo"

# Headless Chromium and CJK fonts (townships.png, and the browser test's glyph check), where missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium fonts-noto-cjk >/dev/null; } || \
	  echo "chromium could not be installed; the browser test will be skipped"
	@ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q fonts-noto-cjk >/dev/null || \
	    { $$SUDO apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q fonts-noto-cjk >/dev/null; }; } || \
	  echo "fonts-noto-cjk could not be installed; townships.png will not be drawn (townships.svg is)"

# Debian's PostgreSQL server and PostGIS, for the ledger tests on the PostGIS back end, where missing.
# The tests start their own throw-away server on localhost; nothing is configured system-wide.
postgis:
	@ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -q >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql >/dev/null && \
	    PG=$$(ls /usr/lib/postgresql | sort -n | tail -1) && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql-$$PG-postgis-3 >/dev/null; } || \
	  echo "PostgreSQL + PostGIS could not be installed; the PostGIS ledger tests will be skipped"

test: $(STAMP) sample_data/.stamp browser postgis
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/real.py --lodo out/models
	$(PY) benchmarks/false_alarms.py
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/batch.py
	$(PY) benchmarks/farmland.py

docs: $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	@echo "docs built in docs/_build/html"

clean:
	rm -rf $(VENV) out sample_data/*.tif sample_data/layers sample_data/.stamp

# The default change model, exactly as shipped, in three stages: trained on ../shared/realdata/train
# (held-out pairs, building tiles and land-cover tiles left out, see src/weipian/learn/recipe.py
# and src/weipian/learn/landcover.py); fine-tuned with seasonal pairs that also cover 1.6-4 m
# pixels (--seasonal-min-zoom 0.4), both made on the resized crop (--seasonal-made-on crop) and
# calibrated as weipian 0.4 was (--calibration 0.4): stage 2 is the model of weipian 0.4; then
# fine-tuned again with seasonal pairs made on the land-cover tiles' own pixels, fields that change
# texture as well as colour and blocks of built land razed to cleared ground, and calibrated on the
# validation pairs and seasonal pairs at 1.6-12 m (src/weipian/learn/calibrate.py); then copied into
# the package. Resumable: run it again after an interruption and each stage continues from its last.pt.
REALDATA ?= ../shared/realdata
MODEL_STEPS ?= 5000
TUNE_STEPS ?= 3000
SEASON_STEPS ?= 3000
TRAIN_DATA = --data $(REALDATA)/train --buildings $(REALDATA)/train/buildings \
	--landcover $(REALDATA)/train/landcover
model: $(STAMP)
	$(VENV)/bin/weipian train out/models/stage1 $(TRAIN_DATA) --seasonal-made-on crop --calibration 0.4 \
		--arch lean --steps $(MODEL_STEPS) --batch 16 --val-every 500 --seed 0 --resume
	$(VENV)/bin/weipian train out/models/stage2 $(TRAIN_DATA) --from-model out/models/stage1/weights.pt \
		--seasonal-made-on crop --calibration 0.4 --seasonal-min-zoom 0.4 --steps $(TUNE_STEPS) --batch 16 --lr 5e-4 --val-every 1000 --seed 3 \
		--threads 1 --resume
	$(VENV)/bin/weipian train out/models/default $(TRAIN_DATA) --from-model out/models/stage2/weights.pt \
		--seasonal-made-on tile --seasonal-min-zoom 0.4 --seasonal-retexture 0.5 --seasonal-demolish 0.3 \
		--steps $(SEASON_STEPS) --batch 16 --lr 7e-4 --val-every 1000 --seed 5 --threads 1 --resume
	cp out/models/default/model.onnx out/models/default/weights.pt out/models/default/model_card.json \
		src/weipian/learn/default/

# The two models the default routes some pixel sizes to (src/weipian/learn/default/routes.json), made
# the same way: the shipped default fine-tuned with the seasonal pairs of its last stage, with seeds 5
# and 6; their weights averaged and calibrated on the validation pairs (average-models), then copied
# into the package. Resumable like make model.
ROUTE_TRAIN = --from-model default --seasonal-made-on tile --seasonal-min-zoom 0.4 --seasonal-retexture 0.5 \
	--seasonal-demolish 0.3 --batch 16 --lr 7e-4 --val-every 500 --threads 1 --resume
# $(call averaged_route,NAME,SEED_5_DIR,SEED_6_DIR,OPTIONS): both seeds, out/models/NAME_soup,
# src/weipian/learn/default/NAME/
define averaged_route
	$(VENV)/bin/weipian train $(2) $(TRAIN_DATA) $(ROUTE_TRAIN) $(4) --seed 5
	$(VENV)/bin/weipian train $(3) $(TRAIN_DATA) $(ROUTE_TRAIN) $(4) --seed 6
	$(VENV)/bin/weipian average-models out/models/$(1)_soup $(2) $(3) \
		--data $(REALDATA)/train --landcover $(REALDATA)/train/landcover
	mkdir -p src/weipian/learn/default/$(1)
	cp out/models/$(1)_soup/model.onnx out/models/$(1)_soup/weights.pt out/models/$(1)_soup/model_card.json \
		src/weipian/learn/default/$(1)/
endef

# Pixels of 0.6 m or finer: at the imagery's own resolution (--native, crops zoomed out at most 1.5
# times), on the sub-metre pair datasets only.
VHR_STEPS ?= 2000
VHR_TRAIN = --datasets levir_cd,pak_houses,whu_cd --native --max-zoom-out 1.5 --steps $(VHR_STEPS)
vhr-model: $(STAMP)
	$(call averaged_route,vhr,out/models/vhr,out/models/vhr_s6,$(VHR_TRAIN))

# Pixels coarser than 5 m: on the 10 m OSCD pairs and the 2 m DSIFN pairs only, their crops zoomed
# out up to 5 times (so DSIFN also at 5-10 m).
COARSE_STEPS ?= 1500
COARSE_TRAIN = --datasets oscd,dsifn --max-zoom-out 5 --steps $(COARSE_STEPS)
coarse-model: $(STAMP)
	$(call averaged_route,coarse,out/models/coarse_s5,out/models/coarse_s6,$(COARSE_TRAIN))

# The default land-cover model of weipian farmland, exactly as shipped: trained on the training split of
# ../shared/realdata/train/landcover (held-out and validation tiles left out, see
# src/weipian/learn/landcover.py), best checkpoint by validation mean F1, then copied into the package.
# Resumable like make model.
COVER_STEPS ?= 8000
cover-model: $(STAMP)
	$(VENV)/bin/weipian train out/models/cover_v2 --task cover --landcover $(REALDATA)/train/landcover \
		--steps $(COVER_STEPS) --batch 16 --val-every 1000 --seed 0 --class-weight-power 0.75 --resume
	mkdir -p src/weipian/learn/cover_default
	cp out/models/cover_v2/model.onnx out/models/cover_v2/weights.pt out/models/cover_v2/model_card.json \
		src/weipian/learn/cover_default/

# Leave-one-dataset-out models for benchmarks/real.py --lodo out/models
# (the model card's figures: levir_cd with the defaults, the others with LODO_STEPS=250 LODO_VAL=125)
LODO_STEPS ?= 600
LODO_VAL ?= 200
LODO_SETS ?= levir_cd dsifn oscd whu_cd pak_houses
lodo: $(STAMP)
	for ds in $(LODO_SETS); do \
		$(VENV)/bin/weipian train out/models/lodo_$$ds --data $(REALDATA)/train \
			--buildings $(REALDATA)/train/buildings --landcover $(REALDATA)/train/landcover \
			--batch 16 --leave-out $$ds --steps $(LODO_STEPS) \
			--val-every $(LODO_VAL) --seed 0 --resume || exit 1; \
	done
