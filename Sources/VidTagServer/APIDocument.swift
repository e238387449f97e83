/// The API as an OpenAPI 3.1 document (served at `GET /openapi.json`), limits filled in from the settings.
enum APIDocument {
    static func openAPI(limits: ServeLimits, topK: Int) -> String {
        #"""
        {
          "openapi": "3.1.0",
          "info": {"title": "vidtag serve", "version": "1", "description": "Classifies short videos into level-2 categories (and their level-1 groups) from title, speech transcript, on-screen text and frames. Requests from many connections are batched into one forward pass."},
          "paths": {
            "/v1/classify": {
              "post": {
                "summary": "Top-k categories of one video, or of a list of videos",
                "description": "A JSON body holds one video or a list, frames as base64. A multipart/form-data body holds one video: a `video` part with its JSON and one `frames` file part per JPEG frame; errors name the part (`video.title`, `frames[1]`, `parts[3]` for a part that is not well formed). The body limit is \#(limits.maxBodyBytes) bytes either way.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                  {"$ref": "#/components/schemas/Video"},
                  {"type": "object", "additionalProperties": false, "required": ["videos"], "properties": {
                    "videos": {"type": "array", "minItems": 1, "maxItems": \#(limits.maxVideos), "items": {"$ref": "#/components/schemas/Video"}},
                    "top_k": {"type": "integer", "minimum": 1, "default": \#(topK)}}}
                ]}},
                  "multipart/form-data": {"schema": {"type": "object", "additionalProperties": false, "required": ["video"], "properties": {
                    "video": {"$ref": "#/components/schemas/Video", "description": "the video's JSON as a single-video body, without frames (once)"},
                    "frames": {"type": "array", "maxItems": \#(limits.maxFrames), "items": {"type": "string", "contentMediaType": "image/jpeg"},
                      "description": "one JPEG file part per frame, in time order (the part order); at most \#(limits.maxPixels) pixels each"}}},
                    "encoding": {"video": {"contentType": "application/json"}, "frames": {"contentType": "image/jpeg"}}}
                }},
                "responses": {
                  "200": {"description": "One prediction per video, in request order", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ClassifyResponse"}}}},
                  "400": {"$ref": "#/components/responses/Error"},
                  "413": {"$ref": "#/components/responses/Error"},
                  "503": {"$ref": "#/components/responses/Error"},
                  "504": {"$ref": "#/components/responses/Error"}
                }
              }
            },
            "/healthz": {"get": {"summary": "200 once the model is loaded and warmed up; 503 while loading or draining",
              "responses": {"200": {"description": "ready"}, "503": {"description": "loading, warming_up, draining or stopped"}}}},
            "/metrics": {"get": {"summary": "Prometheus text exposition", "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}}}},
            "/v1/model": {"get": {"summary": "The served model: name, version, frame input, classes, and its card (training settings, held-out evaluations, the best one's per-class scores, whether curves exist)", "responses": {"200": {"description": "model"}}}},
            "/model": {"get": {"summary": "The model card as a self-contained HTML page (reads /v1/model)", "responses": {"200": {"description": "page", "content": {"text/html": {}}}}}},
            "/model/curves.svg": {"get": {"summary": "The run's training curves", "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {}}}, "404": {"$ref": "#/components/responses/Error"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
          },
          "components": {
            "schemas": {
              "Video": {"type": "object", "additionalProperties": false, "properties": {
                "id": {"type": "string", "description": "Echoed in the answer; the position in the request when absent"},
                "title": {"type": "string", "maxLength": \#(limits.maxTextBytes)},
                "asr": {"type": "string", "maxLength": \#(limits.maxTextBytes), "description": "speech transcript"},
                "ocr": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["time"],
                  "properties": {"time": {"type": "integer"}, "text": {"type": "string"}}}, "description": "on-screen text as the annotations have it; joined in time order"},
                "frames": {"type": "array", "maxItems": \#(limits.maxFrames), "items": {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/jpeg"},
                  "description": "JPEG frames in time order, for models trained on raw frames; at most \#(limits.maxPixels) pixels each"},
                "frame_features": {"type": "array", "maxItems": \#(limits.maxFrames), "items": {"type": "array", "items": {"type": "number"}},
                  "description": "one feature row per frame, for models trained on frame features"},
                "top_k": {"type": "integer", "minimum": 1, "default": \#(topK), "description": "top level only"}}},
              "Category": {"type": "object", "required": ["category_id", "probability"], "properties": {
                "category_id": {"type": "string"}, "probability": {"type": "number"}}},
              "ClassifyResponse": {"type": "object", "required": ["model", "predictions", "took_ms"], "properties": {
                "model": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "architecture": {"type": "string"}}},
                "predictions": {"type": "array", "items": {"type": "object", "required": ["id", "level2", "level1"], "properties": {
                  "id": {"type": "string"},
                  "level2": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}},
                  "level1": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}}}}},
                "took_ms": {"type": "number"}}},
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["kind", "message"], "properties": {
                "kind": {"type": "string", "enum": [\#(ServeErrorKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))]},
                "field": {"type": "string", "description": "the field at fault, such as videos[2].frames[0]"},
                "message": {"type": "string"}}}}}
            },
            "responses": {"Error": {"description": "A refused request; 503s carry Retry-After", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
          }
        }
        """#
    }
}
