"""The chat capability: a conversation in, the assistant's reply (and its thinking) out.

`base` holds the Protocol and the errors, `thinking` the parser that keeps a model's
thinking out of what is spoken, and `registry` builds the configured provider
(`venice`, `openai_compatible`, `local`)."""
