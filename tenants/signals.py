"""What tenants tells the rest of the product, without importing it: the audit trail listens (audit/signals.py).

Receivers run synchronously, inside the sender's transaction, so a recorded event commits or rolls back with the
change it describes.
"""

from django.dispatch import Signal

# An admin console page opened an object for change or delete (kwargs: request, obj): a listener may keep a
# "before" picture of it.
admin_object_loaded = Signal()

# An admin console add, change or delete (kwargs: request, obj, action: "created" | "updated" | "deleted"). Sent
# after inlines are saved (created/updated) and before the row is deleted (deleted).
admin_object_changed = Signal()

# A sign-in or websocket handshake was refused (kwargs: code, where, email, detail: dict[str, str],
# tenant: Tenant | int | None).
sign_in_refused = Signal()
