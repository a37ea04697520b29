"""Models on servers: the client, request bodies, the stream parser and RemoteWorker."""
