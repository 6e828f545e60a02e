// The small slice of OpenAPI 3.1 the route fragments use. Each routes file
// exports its paths in this shape; document.ts merges them into one document.
export type Schema = Record<string, unknown>;

export type Parameter = {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  description?: string;
  schema: Schema;
};

export type Response = {
  description: string;
  headers?: Record<string, { description?: string; schema: Schema }>;
  content?: Record<string, { schema: Schema }>;
};

export type Operation = {
  summary: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, Response | { $ref: string }>;
  security?: Record<string, string[]>[];
};

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Paths in OpenAPI form (`/connections/{id}`), each with its operations. */
export type OpenApiPaths = Record<string, Partial<Record<Method, Operation>>>;
