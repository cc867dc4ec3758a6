/** @packageDocumentation SOAP/WSDL services (Bootstrap, Node, Broker): contract-first WSDLs, hardened XML server, typed clients. */
export {}
