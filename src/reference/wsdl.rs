//! A hand-written WSDL 1.1 for the UM web service.
//!
//! Microsoft publishes no schema or WSDL for it (domain.md §1.1); this one describes the
//! wire format the reference target speaks (SOAP 1.1, document/literal, the nested
//! response elements) so off-the-shelf SOAP clients can generate proxies and call it.

use super::http::xml_escape;

/// The 11 operations of the contract, in the order the docs list them.
pub(crate) const OPERATIONS: [&str; 11] = [
    "IsUMEnabled",
    "GetUMProperties",
    "SetOofStatus",
    "SetPlayOnPhoneDialString",
    "SetTelephoneAccessFolderEmail",
    "SetMissedCallNotificationEnabled",
    "ResetPIN",
    "PlayOnPhone",
    "PlayOnPhoneGreeting",
    "GetCallInfo",
    "Disconnect",
];

const TYPES: &str = r#"  <wsdl:types>
    <xs:schema elementFormDefault="qualified" targetNamespace="http://schemas.microsoft.com/exchange/services/2006/messages">
      <xs:simpleType name="UMCallState">
        <xs:restriction base="xs:string">
          <xs:enumeration value="Idle"/>
          <xs:enumeration value="Connecting"/>
          <xs:enumeration value="Alerted"/>
          <xs:enumeration value="Connected"/>
          <xs:enumeration value="Disconnected"/>
          <xs:enumeration value="Incoming"/>
          <xs:enumeration value="Transferring"/>
          <xs:enumeration value="Forwarding"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="UMEventCause">
        <xs:restriction base="xs:string">
          <xs:enumeration value="None"/>
          <xs:enumeration value="UserBusy"/>
          <xs:enumeration value="NoAnswer"/>
          <xs:enumeration value="Unavailable"/>
          <xs:enumeration value="Other"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="UMGreetingType">
        <xs:restriction base="xs:string">
          <xs:enumeration value="NormalCustom"/>
          <xs:enumeration value="OofCustom"/>
        </xs:restriction>
      </xs:simpleType>
      <xs:complexType name="UMCallInfo">
        <xs:sequence>
          <xs:element minOccurs="1" maxOccurs="1" name="CallState" type="tns:UMCallState"/>
          <xs:element minOccurs="1" maxOccurs="1" name="EventCause" type="tns:UMEventCause"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="UMProperties">
        <xs:sequence>
          <xs:element minOccurs="1" maxOccurs="1" name="OofStatus" type="xs:boolean"/>
          <xs:element minOccurs="1" maxOccurs="1" name="MissedCallNotificationEnabled" type="xs:boolean"/>
          <xs:element minOccurs="0" maxOccurs="1" name="PlayOnPhoneDialString" type="xs:string"/>
          <xs:element minOccurs="0" maxOccurs="1" name="TelephoneAccessNumbers" type="xs:string"/>
          <xs:element minOccurs="0" maxOccurs="1" name="TelephoneAccessFolderEmail" type="xs:string"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="Empty">
        <xs:sequence/>
      </xs:complexType>
      <xs:element name="IsUMEnabled" type="tns:Empty"/>
      <xs:element name="IsUMEnabledResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="1" maxOccurs="1" name="IsUMEnabledResponse" type="xs:boolean"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="GetUMProperties" type="tns:Empty"/>
      <xs:element name="GetUMPropertiesResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="GetUMPropertiesResponse" type="tns:UMProperties"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="SetOofStatus">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="1" maxOccurs="1" name="status" type="xs:boolean"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="SetOofStatusResponse" type="tns:Empty"/>
      <xs:element name="SetPlayOnPhoneDialString">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="dialString" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="SetPlayOnPhoneDialStringResponse" type="tns:Empty"/>
      <xs:element name="SetTelephoneAccessFolderEmail">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="base64FolderId" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="SetTelephoneAccessFolderEmailResponse" type="tns:Empty"/>
      <xs:element name="SetMissedCallNotificationEnabled">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="1" maxOccurs="1" name="status" type="xs:boolean"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="SetMissedCallNotificationEnabledResponse" type="tns:Empty"/>
      <xs:element name="ResetPIN" type="tns:Empty"/>
      <xs:element name="ResetPINResponse" type="tns:Empty"/>
      <xs:element name="PlayOnPhone">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="entryId" type="xs:string"/>
            <xs:element minOccurs="0" maxOccurs="1" name="DialString" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="PlayOnPhoneResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="PlayOnPhoneResponse" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="PlayOnPhoneGreeting">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="1" maxOccurs="1" name="GreetingType" type="tns:UMGreetingType"/>
            <xs:element minOccurs="0" maxOccurs="1" name="DialString" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="PlayOnPhoneGreetingResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="PlayOnPhoneGreetingResponse" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="GetCallInfo">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="CallId" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="GetCallInfoResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="GetCallInfoResponse" type="tns:UMCallInfo"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="Disconnect">
        <xs:complexType>
          <xs:sequence>
            <xs:element minOccurs="0" maxOccurs="1" name="CallId" type="xs:string"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
      <xs:element name="DisconnectResponse" type="tns:Empty"/>
    </xs:schema>
  </wsdl:types>
"#;

/// The WSDL document, with `soap:address` pointing at `location` (the URL it was fetched from).
pub(crate) fn document(location: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" \
         xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" \
         xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:tns=\"http://schemas.microsoft.com/exchange/services/2006/messages\" \
         targetNamespace=\"http://schemas.microsoft.com/exchange/services/2006/messages\">\n",
    );
    out.push_str(TYPES);
    for op in OPERATIONS {
        out.push_str(&format!(
            "  <wsdl:message name=\"{op}SoapIn\">\n    <wsdl:part name=\"parameters\" element=\"tns:{op}\"/>\n  </wsdl:message>\n\
             \x20 <wsdl:message name=\"{op}SoapOut\">\n    <wsdl:part name=\"parameters\" element=\"tns:{op}Response\"/>\n  </wsdl:message>\n"
        ));
    }
    out.push_str("  <wsdl:portType name=\"UMServiceSoap\">\n");
    for op in OPERATIONS {
        out.push_str(&format!(
            "    <wsdl:operation name=\"{op}\">\n      <wsdl:input message=\"tns:{op}SoapIn\"/>\n      \
             <wsdl:output message=\"tns:{op}SoapOut\"/>\n    </wsdl:operation>\n"
        ));
    }
    out.push_str("  </wsdl:portType>\n");
    out.push_str(
        "  <wsdl:binding name=\"UMServiceSoap\" type=\"tns:UMServiceSoap\">\n    \
         <soap:binding transport=\"http://schemas.xmlsoap.org/soap/http\" style=\"document\"/>\n",
    );
    for op in OPERATIONS {
        out.push_str(&format!(
            "    <wsdl:operation name=\"{op}\">\n      \
             <soap:operation soapAction=\"http://schemas.microsoft.com/exchange/services/2006/messages/{op}\" style=\"document\"/>\n      \
             <wsdl:input><soap:body use=\"literal\"/></wsdl:input>\n      \
             <wsdl:output><soap:body use=\"literal\"/></wsdl:output>\n    </wsdl:operation>\n"
        ));
    }
    out.push_str("  </wsdl:binding>\n");
    out.push_str(&format!(
        "  <wsdl:service name=\"UMService\">\n    <wsdl:port name=\"UMServiceSoap\" binding=\"tns:UMServiceSoap\">\n      \
         <soap:address location=\"{}\"/>\n    </wsdl:port>\n  </wsdl:service>\n</wsdl:definitions>\n",
        xml_escape(location)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::reader::NsReader;

    #[test]
    fn wsdl_is_well_formed_and_complete() {
        let doc = document("http://127.0.0.1:1/EWS/UM2007Legacy.asmx?a=<&>");
        let mut r = NsReader::from_str(&doc);
        let mut ops = 0;
        loop {
            match r.read_event() {
                Ok(Event::Eof) => break,
                Ok(Event::Start(e)) if e.name().as_ref() == "wsdl:operation" => ops += 1,
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
        // portType + binding
        assert_eq!(ops, 2 * OPERATIONS.len());
        for op in OPERATIONS {
            assert!(
                doc.contains(&format!("<xs:element name=\"{op}Response\"")),
                "{op}"
            );
        }
    }
}
