"""HTTP plumbing: error rendering and the request-ID middleware."""
