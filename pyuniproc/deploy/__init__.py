"""Savant deployment helpers: docker-compose generation from the cameras file, compose checks, and the
DeepStream tracker config derived from the module YAML. See docs/deploy-savant.md."""
