// The studio's bundle (esbuild, `make setup`): the bpmn-js Modeler with the properties panel and creditflow's
// provider, as window.CreditflowStudio for webui/static/modeler.js.
import Modeler from "bpmn-js/lib/Modeler";
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from "bpmn-js-properties-panel";
import CreditflowPropertiesProvider from "./provider.js";
import { ChangeHandler } from "./common.js";
import CreditflowProblems from "./problems.js";

function registerChange(commandStack) {
  commandStack.registerHandler("creditflow.change", ChangeHandler);
}
registerChange.$inject = ["commandStack"];

var CreditflowModule = {
  __init__: ["creditflowPropertiesProvider", "creditflowProblems", "creditflowChange"],
  creditflowPropertiesProvider: ["type", CreditflowPropertiesProvider],
  creditflowProblems: ["type", CreditflowProblems],
  creditflowChange: ["factory", registerChange]
};

window.CreditflowStudio = {
  Modeler: Modeler,
  modules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, CreditflowModule]
};
