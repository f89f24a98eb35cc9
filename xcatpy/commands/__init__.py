"""Command handlers: a Request in, a stream of Responses out."""
