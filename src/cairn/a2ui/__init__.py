"""cairn.a2ui: the A2UI v0.9 protocol, its transport and the agent that streams UI."""
