"""The pages of the Preferences dialog (SPEC F13): one module per kind of page."""
