"""Command-line interface: parsing and printing only; the work happens in the packages below."""
