"""Factur-X: the CII XML, the PDF/A-3b documents and their offline validation."""
