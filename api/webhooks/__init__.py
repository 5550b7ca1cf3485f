"""Webhook subscriptions and their signed, retried delivery."""
