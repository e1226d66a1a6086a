"""What the model layer tells the apps above it, without importing them (chat listens: it owns conversations).

Receivers run synchronously, inside the sender's transaction."""

from django.dispatch import Signal

# A version was retired in favour of another (llm.release.model_version_rollout). kwargs: old, new (ModelVersion),
# tenant_ids (the companies that may use ``new``). A receiver returns how many rows it moved.
model_version_replaced = Signal()
