//! Row by row: the header read into columns, then each data row checked against the
//! rules into a recipient or problems.

use super::*;
use crate::model::Body;
use crate::sms::{shown_list, Counter, Encoding};

/// Where each row's SMS text comes from, when it is known.
enum SmsText {
    /// The template's body with the row's parameters in place.
    Body(Body),
    /// The row's `message` column.
    Message,
}

pub(super) struct Columns {
    /// Header names, trimmed; the used width is `names.len()`.
    names: Vec<String>,
    /// What problems call each column: its name cut to [`EXCERPT_CHARS`], or its letter.
    shown: Vec<Arc<str>>,
    params: Vec<usize>,
    message: Option<usize>,
    priority: Option<usize>,
    /// (column, field) pairs, in column order.
    metadata: Vec<(usize, MetadataField)>,
    /// The header lacks a required column: rows are still checked (so one upload shows
    /// everything to fix), but none becomes a recipient.
    incomplete: bool,
}

impl Columns {
    /// The column as problems name it.
    pub(super) fn shown(&self, i: usize) -> Arc<str> {
        match self.shown.get(i) {
            Some(s) => s.clone(),
            None => Arc::from(column_letter(i)),
        }
    }
}

pub(super) struct Validator<'a> {
    rules: &'a Rules,
    sink: &'a mut dyn Sink,
    phones: PhoneRules,
    columns: Option<Columns>,
    /// Normalised phone → the first row that has it.
    seen: HashMap<u64, u64, FastHash>,
    stopped: bool,
    rows: u64,
    valid: u64,
    invalid: u64,
    blank: u64,
    errors: u64,
    warnings: u64,
    /// Row problems handed to the sink so far.
    detailed: u64,
    omitted: BTreeMap<Code, u64>,
    file_error: bool,
    sms_text: Option<SmsText>,
    sms: SmsSummary,
}

impl<'a> Validator<'a> {
    pub(super) fn new(rules: &'a Rules, sink: &'a mut dyn Sink) -> Self {
        Validator {
            rules,
            sink,
            phones: PhoneRules::new(rules.default_country),
            columns: None,
            seen: HashMap::with_hasher(FastHash),
            stopped: false,
            rows: 0,
            valid: 0,
            invalid: 0,
            blank: 0,
            errors: 0,
            warnings: 0,
            detailed: 0,
            omitted: BTreeMap::new(),
            file_error: false,
            sms_text: if !rules.counts_sms() {
                None
            } else if rules.message_column {
                Some(SmsText::Message)
            } else {
                rules
                    .sms_body
                    .as_deref()
                    .map(|b| SmsText::Body(Body::read(b)))
            },
            sms: SmsSummary::default(),
        }
    }

    /// Counts a problem, and reports it in full while under the cap. The message is only
    /// built when it will be reported: a hostile file's millions of problems cost a count each.
    pub(super) fn report(
        &mut self,
        row: Option<u64>,
        column: Option<&Arc<str>>,
        code: Code,
        message: impl FnOnce() -> String,
    ) {
        match code.severity() {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let file_level = row.is_none_or(|r| r <= 1);
        if !file_level {
            if self.detailed >= self.rules.limits.max_problems {
                *self.omitted.entry(code).or_insert(0) += 1;
                return;
            }
            self.detailed += 1;
        }
        self.sink
            .problem(Problem::new(row, column, code, message()));
    }

    pub(super) fn file_problem(&mut self, code: Code, message: impl Into<String>) {
        self.file_error = true;
        let message = message.into();
        self.report(None, None, code, || message);
    }

    pub(super) fn row(&mut self, row: u64, cells: &[Cell<'_>]) -> ControlFlow<()> {
        if self.columns.is_none() {
            return self.header(row, cells);
        }
        self.rows += 1;
        if self.rows > self.rules.limits.max_rows {
            self.rows -= 1;
            let max = self.rules.limits.max_rows;
            self.file_problem(
                Code::FileTooLarge,
                format!("the file has more than {max} data rows; split it"),
            );
            self.stopped = true;
            return ControlFlow::Break(());
        }
        if cells.iter().all(Cell::is_blank) {
            self.blank += 1;
            return ControlFlow::Continue(());
        }
        let errors_before = self.errors;
        let recipient = self.check_row(row, cells);
        match recipient {
            Some(mut r) if self.errors == errors_before => {
                self.valid += 1;
                r.sms = self.sms_cost(&r);
                if !self.columns.as_ref().is_some_and(|c| c.incomplete) {
                    self.sink.recipient(r);
                }
            }
            _ => self.invalid += 1,
        }
        ControlFlow::Continue(())
    }

    pub(super) fn header(&mut self, row: u64, cells: &[Cell<'_>]) -> ControlFlow<()> {
        let mut names: Vec<String> = cells
            .iter()
            .map(|c| clean(&c.to_text(), false).trim().to_string())
            .collect();
        while names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
        }
        let shown: Vec<Arc<str>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if n.is_empty() {
                    Arc::from(column_letter(i))
                } else {
                    Arc::from(excerpt(n).as_ref())
                }
            })
            .collect();
        let mut taken = vec![false; names.len().max(1)];
        let (message, priority, params, incomplete) = self.header_columns(row, &names, &mut taken);
        let metadata = self.header_metadata(row, &names, &shown, &taken);
        let rules = self.rules;
        let layout = Layout {
            phone: names.first().cloned().unwrap_or_else(|| "phone".into()),
            params: params.iter().map(|&i| shown[i].to_string()).collect(),
            metadata: rules
                .metadata
                .iter()
                .filter(|f| metadata.iter().any(|(_, m)| m.name == f.name))
                .map(|f| f.name.clone())
                .collect(),
            message: message.is_some(),
            priority: priority.is_some(),
            sms: self.sms_text.is_some(),
        };
        self.sink.layout(&layout);
        self.columns = Some(Columns {
            names,
            shown,
            params,
            message,
            priority,
            metadata,
            incomplete,
        });
        ControlFlow::Continue(())
    }

    /// The columns a header gives the template's parts: for a campaign whose rows carry
    /// their own text, the `message` column (and `priority`, if any); else the parameter
    /// columns after the phone. Marks them `taken`; `incomplete` (with the file error
    /// reported) when a needed column is missing.
    fn header_columns(
        &mut self,
        row: u64,
        names: &[String],
        taken: &mut [bool],
    ) -> (Option<usize>, Option<usize>, Vec<usize>, bool) {
        let rules = self.rules;
        let mut message = None;
        let mut priority = None;
        let mut incomplete = false;
        let params: Vec<usize>;
        if rules.message_column {
            message = names
                .iter()
                .skip(1)
                .position(|n| is_named(n, &["message", "mensaje", "texto", "text"]))
                .map(|i| i + 1);
            priority = names
                .iter()
                .skip(1)
                .position(|n| is_named(n, &["priority", "prioridad"]))
                .map(|i| i + 1);
            match message {
                Some(m) => taken[m] = true,
                None => {
                    incomplete = true;
                    self.file_error = true;
                    self.report(Some(row), None, Code::MissingColumns, || {
                        "an SMS campaign without a template needs a 'message' column with each row's text".into()
                    });
                }
            }
            if let Some(p) = priority {
                taken[p] = true;
            }
            params = Vec::new();
        } else {
            let have = names.len().saturating_sub(1);
            if have < rules.params {
                incomplete = true;
                self.file_error = true;
                self.report(Some(row), None, Code::MissingColumns, || {
                    format!(
                        "the template needs {} parameter column(s) after the phone column, the header has {}",
                        rules.params, have
                    )
                });
            }
            params = (1..=rules.params.min(have)).collect();
        }
        taken[0] = true;
        for p in &params {
            taken[*p] = true;
        }
        (message, priority, params, incomplete)
    }

    /// The metadata fields the header's other columns name (case and accents aside); a
    /// column naming none, or one already named, is reported and ignored.
    fn header_metadata(
        &mut self,
        row: u64,
        names: &[String],
        shown: &[Arc<str>],
        taken: &[bool],
    ) -> Vec<(usize, MetadataField)> {
        let rules = self.rules;
        let mut metadata: Vec<(usize, MetadataField)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if taken[i] {
                continue;
            }
            let key = fold(name);
            let field = rules.metadata.iter().find(|f| fold(&f.name) == key);
            let column = &shown[i];
            match field {
                Some(f) if metadata.iter().any(|(_, m)| m.name == f.name) => {
                    self.report(Some(row), Some(column), Code::UnusedColumn, || {
                        format!(
                            "column '{column}' repeats metadata field '{}'; it is ignored",
                            f.name
                        )
                    });
                }
                Some(f) => metadata.push((i, f.clone())),
                None => {
                    self.report(Some(row), Some(column), Code::UnusedColumn, || {
                        if rules.metadata.is_empty() {
                            format!("column '{column}' is not a template parameter and the campaign has no metadata fields; it is ignored")
                        } else {
                            let known: Vec<&str> =
                                rules.metadata.iter().map(|f| f.name.as_str()).collect();
                            format!(
                                "column '{column}' matches no metadata field ({}); it is ignored",
                                known.join(", ")
                            )
                        }
                    });
                }
            }
        }
        metadata
    }

    pub(super) fn check_row(&mut self, row: u64, cells: &[Cell<'_>]) -> Option<Recipient> {
        let cols = self.columns.take().expect("header read first");
        let result = self.check_row_with(&cols, row, cells);
        self.columns = Some(cols);
        result
    }

    pub(super) fn check_row_with(
        &mut self,
        cols: &Columns,
        row: u64,
        cells: &[Cell<'_>],
    ) -> Option<Recipient> {
        let at = |i: usize| cells.get(i).unwrap_or(&Cell::Empty);
        let whatsapp = self.rules.channel == Channel::Whatsapp;
        let mut ok = true;

        let used = cells
            .iter()
            .rposition(|c| !c.is_blank())
            .map_or(0, |i| i + 1);
        let width = cols.names.len();
        if used > width.max(1) {
            let column = cols.shown(width);
            self.report(Some(row), Some(&column), Code::TooManyColumns, || {
                format!("the row has {used} cells but the header has {width} columns")
            });
            ok = false;
        }

        let phone_col = cols.shown(0);
        let phone = self.row_phone(row, &phone_col, at(0));
        ok &= phone.is_some();

        let mut params = Vec::with_capacity(cols.params.len());
        for (n, &i) in cols.params.iter().enumerate() {
            let name = cols.shown(i);
            let what = Param::Template(n + 1);
            match self.text_value(row, &name, at(i), whatsapp, what) {
                Some(v) => params.push(v),
                None => ok = false,
            }
        }

        let message = match cols.message {
            Some(i) => {
                let name = cols.shown(i);
                let v = self.text_value(row, &name, at(i), false, Param::Message);
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let priority = match cols.priority {
            Some(i) => match self.row_priority(row, cols, i, at(i)) {
                Ok(p) => p,
                Err(()) => {
                    ok = false;
                    None
                }
            },
            None => None,
        };

        let mut metadata = Vec::with_capacity(cols.metadata.len());
        for (i, field) in &cols.metadata {
            match self.row_metadata(row, cols, *i, field, at(*i)) {
                Some(v) => metadata.push((field.name.clone(), v)),
                None => ok = false,
            }
        }

        let phone = phone?;
        if !ok {
            return None;
        }
        if !self.rules.allow_duplicates {
            if let Some(&first) = self.seen.get(&phone.digits()) {
                self.report(Some(row), Some(&phone_col), Code::DuplicatePhone, || {
                    format!("{phone} already appears in row {first}")
                });
                return None;
            }
        }
        self.seen.entry(phone.digits()).or_insert(row);
        Some(Recipient {
            row,
            phone,
            params,
            metadata,
            message,
            priority,
            sms: None,
        })
    }

    /// The row's phone (column `phone_col`), or `None` with its problem reported.
    fn row_phone(&mut self, row: u64, phone_col: &Arc<str>, cell: &Cell<'_>) -> Option<Phone> {
        match cell {
            c if c.is_blank() => {
                self.report(Some(row), Some(phone_col), Code::MissingPhone, || {
                    "the phone cell is empty".into()
                });
                None
            }
            Cell::Number(n) => {
                let r = self.phones.parse_number(*n);
                self.phone_result(row, phone_col, &Cell::Number(*n).to_text(), r)
            }
            Cell::Text(t) => {
                let r = self.phones.parse_text(t);
                self.phone_result(row, phone_col, t, r)
            }
            Cell::Bool(_) | Cell::Empty => {
                self.report(Some(row), Some(phone_col), Code::InvalidPhone, || {
                    "the phone cell holds TRUE/FALSE, not a number".into()
                });
                None
            }
        }
    }

    /// The row's priority (column `i`): none when blank, a whole number, else `Err`
    /// with its problem reported.
    fn row_priority(
        &mut self,
        row: u64,
        cols: &Columns,
        i: usize,
        c: &Cell<'_>,
    ) -> Result<Option<i64>, ()> {
        if c.is_blank() {
            return Ok(None);
        }
        match c.to_text().trim().parse::<f64>() {
            Ok(p) if p.fract() == 0.0 && p.abs() < 1e9 => Ok(Some(p as i64)),
            _ => {
                let name = cols.shown(i);
                self.report(Some(row), Some(&name), Code::InvalidParameter, || {
                    format!("priority '{}' is not a whole number", excerpt(&c.to_text()))
                });
                Err(())
            }
        }
    }

    /// The row's value of a metadata `field` (column `i`): `Some(None)` when blank, its
    /// typed value, or `None` with its problem reported.
    fn row_metadata(
        &mut self,
        row: u64,
        cols: &Columns,
        i: usize,
        field: &MetadataField,
        c: &Cell<'_>,
    ) -> Option<Option<MetaValue>> {
        if c.is_blank() {
            return Some(None);
        }
        let value = match field.kind {
            MetadataType::YesNo => match yes_no(c) {
                Some(b) => MetaValue::YesNo(b),
                None => {
                    let name = cols.shown(i);
                    self.report(Some(row), Some(&name), Code::MetadataTypeMismatch, || {
                        format!(
                            "'{}' is not a yes/no value for '{}' (use 1/0, sí/no, yes/no or true/false)",
                            excerpt(&c.to_text()),
                            excerpt(&field.name)
                        )
                    });
                    return None;
                }
            },
            MetadataType::Text => MetaValue::Text(clean(c.to_text().trim(), false)),
            MetadataType::Paragraph => MetaValue::Text(clean(c.to_text().trim(), true)),
        };
        Some(Some(value))
    }

    /// A valid row's SMS cost, when its text is known: added to the summary, and warned
    /// about when over the limit.
    pub(super) fn sms_cost(&mut self, r: &Recipient) -> Option<SmsCost> {
        if self.columns.as_ref().is_none_or(|c| c.incomplete) {
            // The header lacks a column: the text cannot be made, and nothing is sent.
            return None;
        }
        let mut counter = Counter::new();
        match self.sms_text.as_ref()? {
            SmsText::Body(body) => body.pieces(&r.params).for_each(|p| counter.push_str(p)),
            SmsText::Message => counter.push_str(r.message.as_deref().unwrap_or_default()),
        }
        let cost = counter.finish();
        self.sms.add(&cost);
        let max = self.rules.max_sms_segments;
        if cost.segments > max {
            let column = match self.sms_text {
                Some(SmsText::Message) => self
                    .columns
                    .as_ref()
                    .and_then(|c| c.message.map(|i| c.shown(i))),
                _ => None,
            };
            self.report(Some(r.row), column.as_ref(), Code::SmsSegments, || {
                let why = match cost.encoding {
                    Encoding::Gsm7 => "GSM-7".to_string(),
                    Encoding::Ucs2 => format!("UCS-2 because of {}", shown_list(&cost.ucs2_chars)),
                };
                format!(
                    "this message takes {} SMS segments ({why}); the limit is {max}",
                    cost.segments
                )
            });
        }
        Some(cost)
    }

    pub(super) fn phone_result(
        &mut self,
        row: u64,
        col: &Arc<str>,
        raw: &str,
        r: Result<Phone, PhoneError>,
    ) -> Option<Phone> {
        match r {
            Ok(p) => Some(p),
            Err(e) => {
                self.report(Some(row), Some(col), Code::InvalidPhone, || {
                    format!("'{}': {e}", excerpt(raw.trim()))
                });
                None
            }
        }
    }

    /// A parameter or message cell: required, cleaned, and checked against the channel.
    pub(super) fn text_value(
        &mut self,
        row: u64,
        col: &Arc<str>,
        cell: &Cell<'_>,
        whatsapp: bool,
        what: Param,
    ) -> Option<String> {
        if cell.is_blank() {
            self.report(Some(row), Some(col), Code::MissingParameter, || {
                format!("{what} is empty")
            });
            return None;
        }
        let raw = cell.to_text();
        let raw = raw.trim();
        if whatsapp {
            let refusal = if raw.contains(['\n', '\r']) {
                Some("has a line break".to_string())
            } else if raw.contains('\t') {
                Some("has a tab".to_string())
            } else if raw.contains("     ") {
                Some("has more than 4 spaces in a row".to_string())
            } else {
                let n = raw.chars().count();
                (n > 1024).then(|| format!("has {n} characters; the limit is 1,024"))
            };
            if let Some(why) = refusal {
                self.report(Some(row), Some(col), Code::InvalidParameter, || {
                    format!("{what} {why}, which WhatsApp refuses in a template parameter")
                });
                return None;
            }
        }
        Some(clean(raw, !whatsapp))
    }

    pub(super) fn finish(self, format: Option<Format>) -> Summary {
        let mut me = self;
        if !me.file_error && (me.columns.is_none() || me.rows == me.blank) {
            let msg = if me.columns.is_none() {
                "the file has no rows"
            } else {
                "the file has a header but no data rows"
            };
            me.file_problem(Code::EmptyFile, msg);
        }
        // A file-level problem (a required column missing, …): no row of it can be
        // sent, so none counts as valid; each row's own problems are still listed.
        if me.file_error {
            me.invalid += me.valid;
            me.valid = 0;
        }
        let ok = match me.rules.on_invalid_rows {
            OnInvalidRows::Reject => me.errors == 0,
            OnInvalidRows::Skip => !me.file_error && me.valid > 0,
        };
        Summary {
            status: if ok { Status::Valid } else { Status::Invalid },
            format,
            counts: Counts {
                rows: me.rows,
                valid_rows: me.valid,
                invalid_rows: me.invalid,
                blank_rows: me.blank,
                unique_phones: me.seen.len() as u64,
                errors: me.errors,
                warnings: me.warnings,
            },
            problems_omitted: me.omitted,
            sms: (me.sms_text.is_some() && !me.file_error).then_some(me.sms),
        }
    }
}

/// Which cell a text problem is about, as the message names it.
#[derive(Clone, Copy)]
pub(super) enum Param {
    Template(usize),
    Message,
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Template(n) => write!(f, "parameter {{{{{n}}}}}"),
            Param::Message => f.write_str("the message"),
        }
    }
}
