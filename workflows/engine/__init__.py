"""The SpiffWorkflow boundary and the public verbs that advance instances."""
