"""Reaching people: ward rotas, delivery of alert notifications on every channel, accept links."""
