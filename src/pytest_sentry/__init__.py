"""Audit container images for security from pytest."""
