"""E-mail: templates, the transactional outbox, SMTP sending and the built-in sink."""
