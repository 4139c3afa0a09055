use super::*;

fn body(extra: Value) -> Vec<u8> {
    let mut v = json!({
        "log_group_id": "g",
        "log_stream_ids": ["s"],
        "obs_bucket_name": "bucket-1",
        "type": "cycle",
        "storage_format": "RAW",
        "switch_on": "true",
        "prefix_name": "fileprefixname",
        "dir_prefix_name": "dirprefixname",
        "period": 5,
        "period_unit": "min"
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string().into_bytes()
}

fn code(extra: Value) -> ErrorCode {
    parse_create(&body(extra)).unwrap_err().code
}

#[test]
fn the_seed_example_parses() {
    let r = parse_create(&body(json!({}))).unwrap();
    assert_eq!((r.format, r.switch_on, r.period, r.period_unit), (DumpFormat::Raw, true, 5, PeriodUnit::Min));
    let r =
        parse_create(&body(json!({"storage_format": null, "switch_on": false, "period": "12", "period_unit": "hour"})))
            .unwrap();
    assert_eq!((r.format, r.switch_on, r.period), (DumpFormat::Raw, false, 12));
    assert_eq!(parse_create(&body(json!({"storage_format": "JSON"}))).unwrap().format, DumpFormat::Json);
}

#[test]
fn options_outside_their_lists_are_1901() {
    for extra in [
        json!({"type": "realTime"}),
        json!({"storage_format": "CSV"}),
        json!({"period_unit": "day"}),
        json!({"period": 1, "period_unit": "min"}),
        json!({"period": 4, "period_unit": "hour"}),
        json!({"period": 30, "period_unit": "hour"}),
    ] {
        assert_eq!(code(extra.clone()), ErrorCode::DumpOptionNotInList, "{extra}");
    }
    for (p, u) in [(2, "min"), (5, "min"), (30, "min"), (1, "hour"), (3, "hour"), (6, "hour"), (12, "hour")] {
        assert!(parse_create(&body(json!({"period": p, "period_unit": u}))).is_ok(), "{p}{u}");
    }
    let e = parse_create(&body(json!({"period": 7}))).unwrap_err();
    assert_eq!(e.message, format!("period+period_unit is not in the list {PERIOD_LIST}"));
}

#[test]
fn escaping_prefixes_are_1902() {
    for bad in ["../x", "/abs", "a/../../b", "a\\b", "a\0b", "..", ".", "a//b", "a/./b", "x..y", "a b", &"a".repeat(65)]
    {
        assert_eq!(code(json!({"dir_prefix_name": bad})), ErrorCode::InvalidDumpPrefix, "dir {bad:?}");
        assert_eq!(code(json!({"prefix_name": bad})), ErrorCode::InvalidDumpPrefix, "prefix {bad:?}");
    }
    assert_eq!(code(json!({"prefix_name": "a/b"})), ErrorCode::InvalidDumpPrefix, "a file prefix has no /");
    assert_eq!(dir_segments("a/b.c/d_e-1/").unwrap(), vec!["a", "b.c", "d_e-1"]);
    assert!(dir_segments("").unwrap().is_empty());
    assert!(check_prefix_name("").is_ok() && check_prefix_name("app-1.").is_ok());
}

#[test]
fn shape_errors_are_parameter_invalid() {
    assert_eq!(parse_create(b"not json").unwrap_err().code, ErrorCode::ParameterInvalid);
    assert_eq!(code(json!({"log_stream_ids": []})), ErrorCode::ParameterInvalid);
    assert_eq!(code(json!({"period": -5})), ErrorCode::ParameterInvalid);
    assert_eq!(code(json!({"switch_on": "maybe"})), ErrorCode::ParameterInvalid);
    for bad in ["../b", "B", "ab", "a..b", "-ab", "a/b"] {
        assert_eq!(code(json!({"obs_bucket_name": bad})), ErrorCode::ParameterInvalid, "{bad}");
    }
}

#[test]
fn buckets_are_directories_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::create_dir_all(dir.path().join("outside")).unwrap();
    std::fs::write(root.join("file"), b"x").unwrap();
    assert_eq!(bucket_dir(&root, "real").unwrap(), root.join("real").canonicalize().unwrap());
    assert_eq!(bucket_dir(&root, "nope").unwrap_err().code, ErrorCode::BucketNotExist);
    assert_eq!(bucket_dir(&root, "file").unwrap_err().code, ErrorCode::BucketNotExist);
    assert_eq!(bucket_dir(&dir.path().join("missing"), "real").unwrap_err().code, ErrorCode::BucketNotExist);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("link")).unwrap();
        assert_eq!(bucket_dir(&root, "link").unwrap_err().code, ErrorCode::BucketNotExist, "a symlink out of the root");
    }
}

#[test]
fn window_files_follow_the_layout() {
    let mut dump = Dump {
        id: Uuid::nil(),
        group_id: Uuid::nil(),
        stream_ids: vec![],
        bucket: "b".into(),
        format: DumpFormat::Raw,
        switch_on: true,
        prefix_name: "app-".into(),
        dir_prefix_name: "team/logs/".into(),
        period: 5,
        period_unit: PeriodUnit::Min,
        create_time: 0,
        exported_until: 0,
    };
    // 2023-11-14 22:10:00 UTC .. 22:15
    let start = 1_699_999_800;
    assert_eq!(
        window_path(&dump, "Grp.1", "stream_a", start, start + 300).unwrap(),
        PathBuf::from("team/logs/LogTanks/Grp.1/stream_a/2023/11/14/app-202311142210_2215.log")
    );
    dump.format = DumpFormat::Json;
    dump.prefix_name.clear();
    dump.dir_prefix_name.clear();
    assert_eq!(
        window_path(&dump, "g", "s", 1_700_006_400, 1_700_006_400 + 43_200).unwrap(),
        PathBuf::from("LogTanks/g/s/2023/11/15/202311150000_1200.json")
    );
    assert!(window_path(&dump, "..", "s", 0, 300).is_err());
    assert!(window_path(&dump, "g", "a/b", 0, 300).is_err());
}
