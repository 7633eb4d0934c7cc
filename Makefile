# The README's two commands: `make run` and `make test`. Both set up .venv and var/ only when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DB     := var/creditflow.db
NPM_STAMP := node_modules/.installed
VENDOR    := webui/static/vendor
VENDOR_STAMP := $(VENDOR)/.copied
# The web UI's message catalogues (Flask-Babel): the .po files are committed, their .mo are compiled here.
TRANSLATIONS := webui/translations
PO := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test setup lint clean messages

setup: $(STAMP) $(VENDOR_STAMP) $(MO) $(DB)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# Front-end packages come from npm (package-lock.json); only their dist files are served, from
# webui/static/vendor/ (git-ignored): bpmn-js, htmx, Chart.js for the dashboard's charts, and Swagger UI for the
# API docs at /api/docs; and the PDF letters' CJK font (Noto Sans SC Regular and Bold, OFL, from @expo-google-fonts/noto-sans-sc)
# to vendor/fonts/, which workflows/mail/letters_pdf.py embeds subset to the characters a letter uses.
# The definition editor's studio (bpmn-js, bpmn-js-properties-panel and creditflow's provider, source in
# webui/static/studio/) is bundled by esbuild (a devDependency; studio/build.mjs) into vendor/studio/studio.js,
# and the decision table editor (dmn-js, studio/dmn_index.js) into vendor/studio/dmn.js.
# npm runs again only when package.json or the lockfile changed.
$(NPM_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "make: npm is needed for the web UI's bpmn-js and htmx; install Node.js 18+ with npm" >&2; \
	  echo "      (Debian/Ubuntu: apt-get install nodejs npm) and run make again." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(VENDOR_STAMP): $(NPM_STAMP) $(wildcard webui/static/studio/*.js webui/static/studio/*.mjs)
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/htmx $(VENDOR)/swagger-ui $(VENDOR)/chartjs $(VENDOR)/fonts \
	  $(VENDOR)/studio
	cp node_modules/@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf $(VENDOR)/fonts/NotoSansSC-Regular.ttf
	cp node_modules/@expo-google-fonts/noto-sans-sc/700Bold/NotoSansSC_700Bold.ttf $(VENDOR)/fonts/NotoSansSC-Bold.ttf
	cp node_modules/@expo-google-fonts/noto-sans-sc/LICENSE_FONT $(VENDOR)/fonts/OFL.txt
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md $(VENDOR)/chartjs/
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE $(VENDOR)/htmx/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui/
	cp -r node_modules/bpmn-js/dist/assets node_modules/bpmn-js/LICENSE $(VENDOR)/bpmn-js/
	cp node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js \
	   node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/bpmn-js/
	node webui/static/studio/build.mjs $(VENDOR)/studio/studio.js
	cp node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css $(VENDOR)/studio/
	cp node_modules/bpmn-js-properties-panel/LICENSE $(VENDOR)/studio/LICENSE-bpmn-js-properties-panel
	cp node_modules/@bpmn-io/properties-panel/LICENSE $(VENDOR)/studio/LICENSE-properties-panel
	mkdir -p $(VENDOR)/studio/dmn-font && cp -r node_modules/dmn-js/dist/assets/dmn-font/css \
	   node_modules/dmn-js/dist/assets/dmn-font/font $(VENDOR)/studio/dmn-font/
	cp node_modules/dmn-js/dist/assets/dmn-js-shared.css node_modules/dmn-js/dist/assets/dmn-js-decision-table.css \
	   node_modules/dmn-js/dist/assets/dmn-js-decision-table-controls.css node_modules/dmn-js/LICENSE $(VENDOR)/studio/
	touch $(VENDOR_STAMP)

# Compiled when the catalogue changed; fuzzy entries are left out (tests/webui/test_translations.py refuses them).
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

# After wrapping new strings in _() or {% trans %}: extract them and add them to both catalogues (then write the
# zh_Hans msgstr; `make setup` compiles). Locations name the file only, so a moved line changes no catalogue.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-by-file --no-wrap \
	  -k lazy_gettext -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update --no-wrap --ignore-obsolete --no-fuzzy-matching \
	  -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)
	rm $(TRANSLATIONS)/messages.pot

# init is idempotent: it migrates the schema and redeploys only diagrams whose content changed.
$(DB): $(STAMP) $(wildcard bpmn/*) $(wildcard workflows/store/migrations/versions/*.py)
	$(BIN)/creditflow init --demo
	touch $(DB)

run: setup
	@echo ""
	@echo "  creditflow: http://127.0.0.1:$${CREDITFLOW_PORT:-5000}   (mail sink at /mail)"
	@echo "  demo logins, password 'demo': sales1 analyst1 manager1 cfo1 collector1 legal1"
	@echo "                                auditor1 buyer1 pm1 finance1 owner1 admin"
	@echo ""
	$(BIN)/creditflow serve

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check workflows handlers webui tests benchmarks
	$(BIN)/ruff format --check workflows handlers webui tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache node_modules $(VENDOR) $(MO)
