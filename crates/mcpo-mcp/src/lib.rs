//! The MCP client of mcpo: connections, the server registry and discovery.
