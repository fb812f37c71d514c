# kssl: `make demo` and `make test` each set up everything on a fresh Debian machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kssl-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CLIPART := /usr/share/openclipart/png
DEMO_EPOCHS ?= 2
PYTEST_ARGS ?=

.PHONY: demo test run-tests install data data-colour data-audio clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(STAMP)

data:
	@[ -f $(FMNIST) ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; }

# Colour images for colorization / split-brain on colour (131 MB; not needed by the demo or the tests).
data-colour:
	@[ -d $(CLIPART) ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openclipart-png; }

# Speech for CPC (examples/cpc_audio.py, kssl.audio): espeak-ng (synthetic, phone-labelled) and Fillets-NG's
# Czech/Dutch voice acting (~190 MB); not needed by the demo.
data-audio:
	@{ command -v espeak-ng >/dev/null && [ -d /usr/share/games/fillets-ng/sound ]; } || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq espeak-ng fillets-ng-data-cs fillets-ng-data-nl; }

demo: install data
	$(BIN)/python examples/simclr_fashion_mnist.py --epochs $(DEMO_EPOCHS) --raw_pixels --out out/demo

test: install
	@$(MAKE) --no-print-directory run-tests

# pytest exits 5 when it collects no test: that fails the target (and CI) like any other failure.
run-tests:
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests -- failing"; fi; exit $$rc

clean:
	rm -rf $(VENV) out .pytest_cache
