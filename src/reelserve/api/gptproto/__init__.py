"""GPTProto's unified video API (`POST /api/v3/videos`, `GET /api/v3/videos/{id}`, `GET /api/v3/tasks/result/{id}`)
over reelserve's predictions: the wire models, the mapping onto routes and back, the error shape, and the routes."""
