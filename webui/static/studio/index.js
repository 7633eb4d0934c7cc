// The studio's bundle (esbuild, `make setup`): the bpmn-js Modeler with the properties panel and creditflow's
// provider, as window.CreditflowStudio for webui/static/modeler.js.
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import CreditflowPropertiesProvider from "./provider.js";
import { ChangeHandler } from "./common.js";
import CreditflowProblems from "./problems.js";
import { libraryTranslate } from "./i18n.js";
import CreditflowForms from "./form_builder.js";

function registerChange(commandStack) {
  commandStack.registerHandler("creditflow.change", ChangeHandler);
}
registerChange.$inject = ["commandStack"];

var CreditflowModule = {
  __init__: ["creditflowPropertiesProvider", "creditflowProblems", "creditflowChange"],
  creditflowForms: ["type", CreditflowForms],  // forms made from a field list, deployed with the diagram
  creditflowPropertiesProvider: ["type", CreditflowPropertiesProvider],
  creditflowProblems: ["type", CreditflowProblems],
  creditflowChange: ["factory", registerChange]
};

// bpmn-js's, diagram-js's and the properties panel's own labels in the page's language (studio/library_labels.js).
var TranslateModule = { translate: ["value", libraryTranslate("bpmn-js")] };

window.CreditflowStudio = {
  Modeler: Modeler,
  modules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CreditflowModule, TranslateModule]
};
