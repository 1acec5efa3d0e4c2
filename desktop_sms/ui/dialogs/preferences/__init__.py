"""The pages of the Preferences dialog (docs/product.md F13): one module per kind of page."""
