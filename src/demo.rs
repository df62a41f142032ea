//! `atiende serve --demo`: a realistic Spanish workspace in an empty data dir — accounts of
//! several channels, ~200 customers with valid RUTs, ~1,000 tickets in every state, agents,
//! labels, teams and canned responses. Deterministic (fixed seed) so screenshots and tests
//! see the same data.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use std::collections::BTreeMap;

use crate::domain::fields::{FieldDef, FieldKind, FieldTarget};
use crate::domain::rut::Rut;
use crate::domain::*;
use crate::error::AppResult;
use crate::store::contacts::ContactFacts;
use crate::store::tickets::{self, Access, Inbound, Reply, TicketPatch};
use crate::store::{accounts, catalog, users, Store};

pub const FIRST: [&str; 24] = [
    "Camila",
    "Matías",
    "Valentina",
    "Benjamín",
    "Javiera",
    "Vicente",
    "Catalina",
    "Martín",
    "Fernanda",
    "Diego",
    "Constanza",
    "Sebastián",
    "Antonia",
    "Tomás",
    "Francisca",
    "Joaquín",
    "Isidora",
    "Felipe",
    "Josefa",
    "Nicolás",
    "María José",
    "Cristóbal",
    "Trinidad",
    "Agustín",
];
pub const LAST: [&str; 20] = [
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Rodríguez",
    "López",
    "Fuentes",
    "Hernández",
    "Torres",
    "Araya",
    "Flores",
    "Espinoza",
    "Valenzuela",
];
const OPENERS: [&str; 12] = [
    "Hola, compré una parka el lunes y todavía no llega, ¿me pueden dar información del envío?",
    "Buenas tardes, necesito cambiar la talla de unas zapatillas que compré en la tienda online.",
    "¿Tienen stock del polerón azul en talla M? No me aparece en la página.",
    "Me llegó el pedido incompleto: faltan dos poleras. Adjunto la boleta.",
    "Quiero anular mi compra, me equivoqué de dirección de despacho.",
    "¿Cuál es el horario de atención de la tienda de Providencia?",
    "El pago con tarjeta me aparece rechazado pero el cargo sí se hizo. ¿Qué hago?",
    "Hola! Quería saber si hacen envíos a regiones, vivo en Punta Arenas.",
    "No puedo ingresar a mi cuenta, me dice que la contraseña es incorrecta.",
    "Excelente atención en la tienda del Costanera, muchas gracias a la vendedora.",
    "¿Cuándo termina el concurso de Instagram? Ya compartí la publicación.",
    "Necesito la factura de mi compra a nombre de la empresa, ¿a qué correo la pido?",
];
/// The subject line of each opener, when it comes by mail or the contact form.
const SUBJECTS: [&str; 12] = [
    "Envío de mi parka",
    "Cambio de talla",
    "Stock del polerón azul",
    "Pedido incompleto",
    "Anular compra",
    "Horario de la tienda de Providencia",
    "Pago rechazado con cargo",
    "Envíos a regiones",
    "No puedo ingresar a mi cuenta",
    "Felicitaciones",
    "Concurso de Instagram",
    "Factura a nombre de empresa",
];
const FOLLOWUPS: [&str; 6] = [
    "¿Hay alguna novedad? Sigo esperando.",
    "Gracias, quedo atenta.",
    "Les envié los datos que me pidieron.",
    "Perfecto, muchas gracias por la ayuda.",
    "Todavía no me llega el correo de confirmación.",
    "¿Me pueden llamar al celular? Es urgente.",
];
const REPLIES: [&str; 6] = [
    "¡Hola! Gracias por escribirnos. Revisamos tu pedido y está en camino; debería llegar en 48 horas.",
    "Hola, lamentamos el inconveniente. Ya gestionamos el cambio y te enviaremos la etiqueta de despacho por correo.",
    "Te confirmamos que el pago quedó reversado; el banco puede tardar hasta 5 días hábiles en reflejarlo.",
    "¡Gracias por tu mensaje! Sí, hacemos envíos a todo Chile.",
    "Hola, te enviamos un enlace para restablecer tu contraseña. Cualquier duda, aquí estamos.",
    "Gracias por tus comentarios, se los haremos llegar al equipo de la tienda.",
];

pub struct DemoLogin {
    pub email: &'static str,
    pub password: &'static str,
    pub role: Role,
    pub name: &'static str,
}

pub const LOGINS: [DemoLogin; 5] = [
    DemoLogin {
        email: "admin@demo.atiende.cl",
        password: "demo-admin",
        role: Role::Admin,
        name: "Carolina Reyes",
    },
    DemoLogin {
        email: "supervisora@demo.atiende.cl",
        password: "demo-supervisora",
        role: Role::Supervisor,
        name: "Paula Vergara",
    },
    DemoLogin {
        email: "ana@demo.atiende.cl",
        password: "demo-agente",
        role: Role::Agent,
        name: "Ana Castillo",
    },
    DemoLogin {
        email: "luis@demo.atiende.cl",
        password: "demo-agente",
        role: Role::Agent,
        name: "Luis Navarro",
    },
    DemoLogin {
        email: "sofia@demo.atiende.cl",
        password: "demo-agente",
        role: Role::Agent,
        name: "Sofía Ibáñez",
    },
];

pub const CUSTOMERS: usize = 200;
pub const TICKETS: usize = 1_000;

/// Fills the store when it has no users yet; prints the demo logins either way.
pub fn fill(store: &Store) -> AppResult<()> {
    let existing = store.read_blocking(users::count)?;
    if existing > 0 {
        println!("Demo: this data dir already has users; leaving it as it is.");
        print_logins();
        return Ok(());
    }
    let mut rng = StdRng::seed_from_u64(20261123);
    let now = store.now();
    let day = DAY_MS;

    let mut user_ids = Vec::new();
    for l in &LOGINS {
        let new = users::NewUser {
            email: l.email.into(),
            name: l.name.into(),
            role: l.role,
            password_hash: crate::auth::hash_password(l.password)?,
            language: "es".into(),
            invited: false,
        };
        let u =
            store.write_blocking(move |txn, fx| users::create(txn, fx, &new, now - 60 * day))?;
        user_ids.push(u.id);
    }
    let agents: Vec<u64> = user_ids[2..].to_vec();

    // SLA policies (SLA-1): the accounts below follow them by index.
    let policy_specs: [(&str, i64, Option<i64>); 4] = [
        ("Correo y formulario (4 h)", 240, Some(480)),
        ("Mensajería (30 min)", 30, Some(60)),
        ("Chat en vivo (15 min)", 15, None),
        ("Redes sociales (2 h)", 120, None),
    ];
    let account_specs: [(Channel, &str, usize); 6] = [
        (Channel::Email, "Soporte (correo)", 0),
        (Channel::Whatsapp, "WhatsApp Ventas", 1),
        (Channel::Webchat, "Chat web", 2),
        (Channel::Facebook, "Facebook Tienda", 3),
        (Channel::Instagram, "Instagram @tienda", 3),
        (Channel::Form, "Formulario de contacto", 0),
    ];
    let agent_ids = agents.clone();
    let account_list: Vec<Account> = store.write_blocking(move |txn, fx| {
        let mut policies = Vec::new();
        for (name, first, next) in policy_specs {
            let p = crate::domain::sla::SlaPolicy {
                id: catalog::new_id::<crate::domain::sla::SlaPolicy>(txn)?,
                name: name.into(),
                first_response_minutes: first,
                next_response_minutes: next,
                business_hours: false,
            };
            catalog::put(txn, fx, p.id, &p)?;
            policies.push(p.id);
        }
        let mut out = Vec::new();
        for (kind, name, policy) in account_specs {
            let mut settings = serde_json::Map::new();
            settings.insert("sla_policy_id".into(), policies[policy].to_string().into());
            let a = accounts::create(txn, fx, kind, name, settings, now - 59 * day)?;
            for (i, agent) in agent_ids.iter().enumerate() {
                // Each agent works on most accounts; one is off Instagram.
                let mode = if kind == Channel::Instagram && i == 2 {
                    AssignMode::Disabled
                } else {
                    AssignMode::Auto
                };
                accounts::set_mode(txn, *agent, a.id, mode)?;
            }
            out.push(a);
        }
        Ok(out)
    })?;

    let team_members = agents[..2].to_vec();
    let label_ids: Vec<u64> = store.write_blocking(move |txn, fx| {
        let mut ids = Vec::new();
        for (name, color) in [("Despacho", "#1f6feb"), ("Cambio", "#8250df"), ("Reclamo", "#cf222e"), ("Concurso", "#bf8700"), ("Factura", "#1a7f37")] {
            let id = catalog::new_id::<Label>(txn)?;
            let l = Label { id, name: name.into(), color: Some(color.into()) };
            catalog::put(txn, fx, id, &l)?;
            ids.push(id);
        }
        let team = Team { id: catalog::new_id::<Team>(txn)?, name: "Postventa".into(), members: team_members.clone(), calendar_id: None };
        catalog::put(txn, fx, team.id, &team)?;
        for (title, shortcut, text) in [
            ("Saludo", "hola", "¡Hola {{customer.name}}! Gracias por escribirnos, ¿en qué te podemos ayudar?"),
            ("Seguimiento de envío", "envio", "Hola {{customer.name}}, tu pedido está en camino. Puedes seguirlo con el número de seguimiento que te enviamos por correo."),
            ("Despedida", "chao", "¡Que tengas un excelente día, {{customer.name}}! Cualquier otra consulta, aquí estamos."),
        ] {
            let c = CannedResponse { id: catalog::new_id::<CannedResponse>(txn)?, title: title.into(), shortcut: Some(shortcut.into()), text: text.into(), owner_id: None };
            catalog::put(txn, fx, c.id, &c)?;
        }
        Ok(ids)
    })?;

    // Seed 003: typifications on every ticket, and a few profile fields.
    let demo_fields: DemoFields = store.write_blocking(move |txn, fx| {
        let mut add = |target, name: &str, kind, options: &[&str]| -> AppResult<String> {
            let id = catalog::new_id::<FieldDef>(txn)?;
            let f = FieldDef {
                id,
                target,
                name: name.into(),
                kind,
                options: options.iter().map(|o| o.to_string()).collect(),
                position: id as u32,
                ..Default::default()
            };
            catalog::put(txn, fx, id, &f)?;
            Ok(f.key())
        };
        Ok(DemoFields {
            motive: add(
                FieldTarget::Ticket,
                "Motivo de contacto",
                FieldKind::Choice,
                &MOTIVES,
            )?,
            first_contact: add(
                FieldTarget::Ticket,
                "Resuelto en el primer contacto",
                FieldKind::YesNo,
                &[],
            )?,
            commune: add(FieldTarget::Contact, "Comuna", FieldKind::Choice, &COMMUNES)?,
            frequent: add(
                FieldTarget::Contact,
                "Cliente frecuente",
                FieldKind::YesNo,
                &[],
            )?,
        })
    })?;

    // Customers: (name, rut, email, phone, instagram username).
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let rut = Rut::from_body(rng.gen_range(5_000_000..26_000_000));
        let slug: String = format!("{first}.{last}{i}")
            .to_lowercase()
            .chars()
            .map(|c| match c {
                'á' => 'a',
                'é' => 'e',
                'í' => 'i',
                'ó' => 'o',
                'ú' | 'ü' => 'u',
                'ñ' => 'n',
                ' ' => '.',
                c => c,
            })
            .collect();
        customers.push((
            format!("{first} {last}"),
            rut.normalized(),
            // A reserved domain (RFC 2606): the demo never writes to real people.
            format!("{slug}@cliente.example"),
            format!("+569{:08}", rng.gen_range(10_000_000..99_999_999u32)),
            slug.replace('.', "_"),
        ));
    }

    let admin = Access {
        user_id: user_ids[0],
        name: LOGINS[0].name.into(),
        role: Role::Admin,
        visible: None,
    };
    let mut plans = Vec::with_capacity(TICKETS);
    for msg_seq in 0..TICKETS as u64 {
        let c = &customers[rng.gen_range(0..customers.len())];
        let account = &account_list[rng.gen_range(0..account_list.len())];
        let mut agent_index = rng.gen_range(0..agents.len());
        if account.kind == Channel::Instagram && agent_index == 2 {
            // Sofía is not enabled on Instagram (see the assignment table above).
            agent_index = 0;
        }
        let age = rng.gen_range(0..30 * day);
        let started = now - age;
        let roll: f64 = rng.gen();
        let outcome = if age > 3 * day {
            if roll < 0.75 {
                2
            } else if roll < 0.9 {
                3
            } else {
                1
            }
        } else if roll < 0.6 {
            1
        } else {
            2
        };
        plans.push(Plan {
            name: c.0.clone(),
            rut: c.1.clone(),
            email: c.2.clone(),
            phone: c.3.clone(),
            username: c.4.clone(),
            account: account.clone(),
            started,
            now,
            opener: rng.gen_range(0..OPENERS.len()),
            followup: (rng.gen_bool(0.4)).then(|| FOLLOWUPS[rng.gen_range(0..FOLLOWUPS.len())]),
            reply: (outcome != 1 || rng.gen_bool(0.5))
                .then(|| REPLIES[rng.gen_range(0..REPLIES.len())]),
            agent: agents[agent_index],
            agent_name: LOGINS[2 + agent_index].name,
            outcome,
            important: rng.gen_bool(0.08),
            label: rng
                .gen_bool(0.5)
                .then(|| label_ids[rng.gen_range(0..label_ids.len())]),
            sentiment: [Sentiment::Positive, Sentiment::Neutral, Sentiment::Negative]
                [rng.gen_range(0..3)],
            seq: msg_seq,
            motive: MOTIVES[rng.gen_range(0..MOTIVES.len())],
            commune: COMMUNES[rng.gen_range(0..COMMUNES.len())],
            fields: demo_fields.clone(),
        });
    }
    plans.sort_by_key(|p| p.started);
    let mut plans = plans.into_iter().peekable();
    while plans.peek().is_some() {
        let batch: Vec<Plan> = plans.by_ref().take(100).collect();
        let access = admin.clone();
        store.write_blocking(move |txn, fx| {
            for p in &batch {
                p.apply(txn, fx, &access)?;
            }
            Ok(())
        })?;
    }
    println!(
        "Demo workspace created: {} accounts, {CUSTOMERS} customers, {TICKETS} conversations.",
        account_list.len()
    );
    crate::process::release_free_memory();
    print_logins();
    Ok(())
}

fn print_logins() {
    println!("Demo logins:");
    for l in &LOGINS {
        println!("  {:<11} {:<30} {}", l.role.as_str(), l.email, l.password);
    }
}

struct Plan {
    name: String,
    rut: String,
    email: String,
    phone: String,
    username: String,
    account: Account,
    started: Millis,
    /// When the demo is made: nothing in its history happens later.
    now: Millis,
    /// Index into OPENERS (and SUBJECTS).
    opener: usize,
    followup: Option<&'static str>,
    reply: Option<&'static str>,
    agent: u64,
    agent_name: &'static str,
    /// 1 open, 2 closed, 3 ignored.
    outcome: u8,
    important: bool,
    label: Option<u64>,
    sentiment: Sentiment,
    seq: u64,
    motive: &'static str,
    commune: &'static str,
    fields: DemoFields,
}

/// The demo's field ids (their keys in `fields`).
#[derive(Clone)]
struct DemoFields {
    motive: String,
    first_contact: String,
    commune: String,
    frequent: String,
}

const MOTIVES: [&str; 5] = [
    "Consulta",
    "Reclamo",
    "Seguimiento de pedido",
    "Cambio o devolución",
    "Otro",
];
const COMMUNES: [&str; 6] = [
    "Santiago",
    "Providencia",
    "Concepción",
    "Viña del Mar",
    "Temuco",
    "Antofagasta",
];

impl Plan {
    fn apply(
        &self,
        txn: &crate::store::WriteTransaction,
        fx: &mut crate::store::Effects,
        admin: &Access,
    ) -> AppResult<()> {
        let public = matches!(self.account.kind, Channel::Facebook | Channel::Instagram)
            && self.seq % 2 == 0;
        let contact_external = match self.account.kind {
            Channel::Email | Channel::Form => self.email.clone(),
            Channel::Whatsapp => self.phone.clone(),
            _ => self.username.clone(),
        };
        let subject = matches!(self.account.kind, Channel::Email | Channel::Form)
            .then(|| SUBJECTS[self.opener].to_string());
        let inbound = |text: &str, n: u64, at: Millis| Inbound {
            subject: subject.clone(),
            files: Vec::new(),
            reply_to_external: None,
            notes: Vec::new(),
            account_id: self.account.id,
            external_id: format!("demo-{}-{n}", self.seq),
            contact_external_id: contact_external.clone(),
            contact: ContactFacts {
                name: Some(self.name.clone()),
                email: Some(self.email.clone()),
                phone: Some(self.phone.clone()),
                rut: Some(self.rut.clone()),
                username: Some(self.username.clone()),
            },
            text: text.into(),
            public,
            reply_to: None,
            attachments: vec![],
            sent_at: Some(at),
            uploader: None,
            thread: tickets::Thread::ByContact,
        };
        let got = tickets::ingest(
            txn,
            fx,
            &inbound(OPENERS[self.opener], 0, self.started),
            self.started,
        )?;
        let number = got.ticket_number;
        // Answers take from a few minutes to a couple of hours, as a real team's do.
        let wait_minutes = [4, 9, 14, 20, 27, 41, 63, 118][(self.seq % 8) as usize];
        let mut at = (self.started + wait_minutes * 60_000).min(self.now);
        let agent = Access {
            user_id: self.agent,
            name: self.agent_name.into(),
            role: Role::Admin,
            visible: None,
        };
        if let Some(r) = self.reply {
            let m = tickets::reply(
                txn,
                fx,
                number,
                &agent,
                &Reply {
                    text: r.into(),
                    reply_to: None,
                    attachments: vec![],
                    template: None,
                },
                at,
            )?;
            // Demo history: these answers went out long ago; nothing is left to send.
            crate::store::mail::settle_demo(txn, &m)?;
            at = (at + (10 + (self.seq * 7) % 50) as i64 * 60_000).min(self.now);
        }
        if let Some(f) = self.followup {
            tickets::ingest(txn, fx, &inbound(f, 1, at), at)?;
            at = (at + 10 * 60_000).min(self.now);
        }
        let mut patch = TicketPatch {
            important: self.important.then_some(true),
            labels: self.label.map(|l| vec![l]),
            sentiment_initial: Some(Some(self.sentiment)),
            ..Default::default()
        };
        if self.reply.is_none() && self.outcome == 1 {
            patch.assignee_id = Some(if self.seq % 3 == 0 {
                None
            } else {
                Some(self.agent)
            });
        }
        // Closed and ignored conversations were typified; open ones mostly not yet.
        if self.outcome != 1 || self.seq % 4 == 0 {
            patch.fields = Some(BTreeMap::from([
                (self.fields.motive.clone(), serde_json::json!(self.motive)),
                (
                    self.fields.first_contact.clone(),
                    serde_json::json!(self.followup.is_none()),
                ),
            ]));
        }
        // Some customers told us where they live.
        if self.seq % 3 == 0 {
            let contact = tickets::get_w(txn, number)?.map(|t| t.contact_id);
            if let Some(mut c) = contact
                .map(|id| crate::store::contacts::get_w(txn, id))
                .transpose()?
                .flatten()
            {
                if c.fields.is_empty() {
                    c.fields
                        .insert(self.fields.commune.clone(), serde_json::json!(self.commune));
                    c.fields.insert(
                        self.fields.frequent.clone(),
                        serde_json::json!(self.seq % 2 == 0),
                    );
                    crate::store::contacts::put(txn, fx, &c, EventKind::ContactUpdated)?;
                }
            }
        }
        match self.outcome {
            2 => {
                patch.state = Some(TicketState::Closed);
                patch.sentiment_final = Some(Some(Sentiment::Positive));
            }
            3 => patch.state = Some(TicketState::Ignored),
            _ => {}
        }
        tickets::patch(txn, fx, number, admin, &patch, at)?;
        Ok(())
    }
}
