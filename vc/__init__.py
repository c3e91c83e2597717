"""The credential core: VCDM 2.0 data model, Data Integrity proofs, presentations, status.

Import from the submodules (``vc.issue``, ``vc.verify``, …); this package module stays empty
so that importing one part does not load them all.
"""
