"""Asset storage and ingestion; as package data, the bundled fonts (assets/fonts, SIL OFL 1.1)."""
