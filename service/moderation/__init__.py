"""Moderation: roles in action, and the log of every moderator action (comments -> posts ->
moderation -> users)."""
