"""Tests that follow the guides of docs/ as written."""
