// node-soap's own minimal service: one document/literal Echo operation, served on 127.0.0.1.
// The SOAP row's baseline: what any SOAP call costs before the toolkit does any work.
import { createServer } from 'node:http'
import soap from 'soap'

const NS = 'urn:mvm:bench:echo'
const wsdl = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="${NS}" targetNamespace="${NS}" name="Echo">
  <types><xs:schema targetNamespace="${NS}" elementFormDefault="qualified">
    <xs:element name="Echo"><xs:complexType><xs:sequence><xs:element name="message" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
    <xs:element name="EchoResponse"><xs:complexType><xs:sequence><xs:element name="message" type="xs:string"/></xs:sequence></xs:complexType></xs:element>
  </xs:schema></types>
  <message name="EchoIn"><part name="parameters" element="tns:Echo"/></message>
  <message name="EchoOut"><part name="parameters" element="tns:EchoResponse"/></message>
  <portType name="EchoPort"><operation name="Echo"><input message="tns:EchoIn"/><output message="tns:EchoOut"/></operation></portType>
  <binding name="EchoBinding" type="tns:EchoPort"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Echo"><soap:operation soapAction="${NS}#Echo"/><input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation>
  </binding>
  <service name="EchoService"><port name="EchoPort" binding="tns:EchoBinding"><soap:address location="http://127.0.0.1/echo"/></port></service>
</definitions>`

const server = createServer((_req, res) => { res.statusCode = 404; res.end() })
const services = { EchoService: { EchoPort: { Echo: (args: { message: string }) => ({ message: args.message }) } } }
server.listen(0, '127.0.0.1', () => {
  soap.listen(server, '/echo', services, wsdl)
  const a = server.address()
  const port = typeof a === 'object' && a !== null ? a.port : 0
  process.stdout.write(JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}/echo` }) + '\n')
})
process.on('SIGTERM', () => { server.close(); process.exit(0) })
