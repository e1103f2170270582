use super::*;
use actor_abi::value;

fn ok(text: &str) -> Value {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> PyLiteralError {
    parse(text).expect_err(text)
}

#[test]
fn scalars() {
    assert_eq!(ok("None"), Value::Null);
    assert_eq!(ok("True"), Value::Bool(true));
    assert_eq!(ok("  False  # comment"), Value::Bool(false));
    assert_eq!(ok("1900"), Value::Int(1900));
    assert_eq!(ok("-5"), Value::Int(-5));
    assert_eq!(ok("1_000"), Value::Int(1000));
    assert_eq!(ok("0x1F"), Value::Int(31));
    assert_eq!(ok("0o17"), Value::Int(15));
    assert_eq!(ok("0b101"), Value::Int(5));
    assert_eq!(ok("1.5e3"), Value::Float(1500.0));
    assert_eq!(ok(".5"), Value::Float(0.5));
    assert_eq!(ok("-2.5"), Value::Float(-2.5));
    assert_eq!(ok("1e-3"), Value::Float(0.001));
}

#[test]
fn strings() {
    assert_eq!(ok("'multiprocTCPBase'"), Value::from("multiprocTCPBase"));
    assert_eq!(ok(r#""a\tb\n\x41\u00e9""#), Value::from("a\tb\nAé"));
    assert_eq!(ok(r"r'C:\path'"), Value::from(r"C:\path"));
    assert_eq!(ok("'''line1\nline2'''"), Value::from("line1\nline2"));
    assert_eq!(ok("'a' \"b\"  'c'"), Value::from("abc"));
    assert_eq!(ok("b'\\x00ab'"), Value::Bytes(vec![0, b'a', b'b']));
    assert_eq!(ok("u'x'"), Value::from("x"));
}

#[test]
fn containers() {
    assert_eq!(ok("{ 'Worker': True, 'Slot': 19, 'nproc': 2 }"), value!({"Worker": true, "Slot": 19, "nproc": 2}));
    assert_eq!(ok("('Restart', True)"), value!(["Restart", true]));
    assert_eq!(ok("(1,)"), value!([1]));
    assert_eq!(ok("(1)"), Value::Int(1));
    assert_eq!(ok("()"), value!([]));
    assert_eq!(ok("[1, [2, {'a': None},],]"), value!([1, [2, {"a": null}]]));
    assert_eq!(ok("{\n  'a': 1,  # trailing comma and comments\n}\n"), value!({"a": 1}));
}

#[test]
fn code_is_refused_with_its_position() {
    let e = err("__import__('os').system('touch X')");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("names are not allowed"), "{e}");
    let e = err("{'a':\n   open('/etc/passwd')}");
    assert_eq!((e.line, e.column), (2, 4));
    assert!(err("1 + 2").message.contains("'+'"));
    assert!(err("os.environ").message.contains("`os`"));
    assert!(err("[x for x in ()]").message.contains("`x`"));
    assert!(err("lambda: 0").message.contains("`lambda`"));
    assert!(err("{'a': 1}['a']").message.contains("after the value"));
    assert!(err("-True").message.contains("not a number"));
}

#[test]
fn malformed_literals_are_refused_with_their_position() {
    let e = err("{'a': 1\n 'b': 2}");
    assert_eq!((e.line, e.column), (2, 2), "{e}");
    assert!(err("").message.contains("empty"));
    assert!(err("'unclosed").message.contains("not closed"));
    assert!(err("{1: 'a'}").message.contains("keys must be strings"));
    assert!(err("{'a': 1, 'a': 2}").message.contains("twice"));
    assert!(err("[1, 2").message.contains("end of file"));
    assert!(err("99999999999999999999").message.contains("64 bits"));
    assert!(err("0777").message.contains("not a number"));
    assert!(err(&"[".repeat(100)).message.contains("nested deeper"));
    assert!(err("'a' b'b'").message.contains("cannot join"));
}
