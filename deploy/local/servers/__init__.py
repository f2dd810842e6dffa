"""The embedded dev stack's servers, one module per kind."""
