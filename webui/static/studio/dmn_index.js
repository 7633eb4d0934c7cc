// The decision table editor's bundle (esbuild, `make setup`): dmn-js's Modeler as window.CreditflowDmn for
// webui/static/dmn_editor.js. A separate file from studio.js, so the diagram editor loads no faster or slower.
import DmnModeler from "dmn-js/lib/Modeler";

window.CreditflowDmn = { Modeler: DmnModeler };
