"""Plumbing shared by the three shells (issuer, verifier, wallet): click glue, bounded input,
bilingual error lines.  It imports the core and click; the core never imports it, and the
shells share only this — they still never import each other (DESIGN.md §2)."""
