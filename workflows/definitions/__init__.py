"""Deployed definitions: validation of BPMN, DMN and forms, compiling to specs, versions."""
