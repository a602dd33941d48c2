"""OpenAI's Videos API (`/v1/videos`) over reelserve's predictions: the wire models, the mapping onto routes and
back, the error shape, and the routes."""
