"""Training one run: the state the compiled loop carries (plain text or records), the driver that
calls it in chunks and records trace and samples, divergence, memory estimates and warm-up.

Named ``training`` rather than ``train`` so that it never hides the public ``rnnbench.train``."""
