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
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
                  {"$ref": "#/components/schemas/Video"},
                  {"type": "object", "additionalProperties": false, "required": ["videos"], "properties": {
                    "videos": {"type": "array", "minItems": 1, "maxItems": \#(limits.maxVideos), "items": {"$ref": "#/components/schemas/Video"}},
                    "top_k": {"type": "integer", "minimum": 1, "default": \#(topK)}}}
                ]}}}},
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
            "/v1/model": {"get": {"summary": "The served model: name, version, frame input, classes", "responses": {"200": {"description": "model"}}}},
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
