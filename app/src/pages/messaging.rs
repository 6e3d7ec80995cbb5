//! Inbox: conversations (live), a thread with bubbles and delivery ticks, the composer with a
//! live segment counter, search.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::{use_location, use_params_map, use_query_map};

use crate::api::messaging::{
    Conversations, DeleteConversation, OpenThread, SearchMessages, SendMessage,
};
use crate::api::numbers::MyNumbers;
use crate::error::AppError;
use crate::live::Live;
use crate::pages::widgets::error_note;
use crate::sms;
use crate::types::{format_instant, human_bytes, MediaState, MediaView};
use crate::wire::{FormAction, FormError, Loaded, PostForm};

#[component]
pub fn InboxLayout() -> impl IntoView {
    let live = Live::get();
    let list = Loaded::new(move || {
        live.conversations.track();
        Conversations {}
    });
    let location = use_location();
    let has_thread = move || location.pathname.get().trim_end_matches('/') != "/inbox";
    // Canned replies under each message box (plain JS, out of the first-load WASM).
    crate::live::page_script("/canned.js");
    view! {
        <Title text="Inbox" />
        <section class="inbox" class:has-thread=has_thread>
            <div class="conversation-pane">
                <h1>"Inbox"</h1>
                <NewMessage />
                <Search />
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(items) if items.is_empty() => view! {
                                <p class="muted">"No conversations yet. Send a text, or wait for one to arrive."</p>
                            }.into_any(),
                            Ok(items) => view! {
                                <ul class="conversations" aria-label="Conversations">
                                    {items.into_iter().map(|c| {
                                        let href = format!("/inbox/{}", c.id);
                                        let via = if c.number_name.is_empty() { c.number_display.clone() } else { c.number_name.clone() };
                                        let unread = c.unread;
                                        view! {
                                            <li>
                                                <A href=href attr:class="conversation">
                                                    <span class="peer">{c.peer_label().to_string()}</span>
                                                    {(unread > 0).then(|| view! {
                                                        <span class="unread" aria-label=format!("{unread} unread")>{unread}</span>
                                                    })}
                                                    <span class="preview">{c.preview.clone()}</span>
                                                    <span class="meta">{format!("{} · via {via}", format_instant(c.last_at))}</span>
                                                </A>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => error_note(e),
                        }
                    })}
                </Transition>
            </div>
            <div class="thread-pane">
                <Outlet />
            </div>
        </section>
    }
}

/// Shown beside the list when no conversation is open.
#[component]
pub fn NoThread() -> impl IntoView {
    view! { <p class="muted pick">"Pick a conversation, or start a new one."</p> }
}

/// A picture uploaded for the message being written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attachment {
    id: String,
    name: String,
    size: usize,
}

/// What is being written in a composer. The page keeps it outside the part that redraws
/// when its data reloads, so a text arriving in the open thread doesn't wipe the reply
/// being typed; a successful send empties it.
#[derive(Clone, Copy)]
struct Draft {
    text: RwSignal<String>,
    attachments: RwSignal<Vec<Attachment>>,
}

impl Draft {
    /// A draft emptied whenever `sent` says a send went through.
    fn emptied_by(sent: Signal<Option<Result<String, AppError>>>) -> Draft {
        let draft = Draft {
            text: RwSignal::new(String::new()),
            attachments: RwSignal::new(Vec::new()),
        };
        Effect::new(move |_| {
            if let Some(Ok(_)) = sent.get() {
                draft.clear();
            }
        });
        draft
    }

    fn clear(&self) {
        self.text.set(String::new());
        self.attachments.set(Vec::new());
    }
}

/// A textarea for a text, with the segment counter under it, and pictures to attach (MMS):
/// each is checked against the carrier's limits and uploaded as soon as it is picked, then
/// sent by id with the form.
#[component]
fn Composer(
    /// Unique on the page: the inbox shows the new-message and reply composers together.
    id: &'static str,
    #[prop(into)] label: String,
    draft: Draft,
) -> impl IntoView {
    let hint_id = format!("{id}-segments");
    let pictures_id = format!("{id}-pictures");
    let Draft { text, attachments } = draft;
    let problem = RwSignal::new(None::<String>);
    let pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        #[cfg(feature = "hydrate")]
        {
            let Some(files) = input.files() else { return };
            let files: Vec<web_sys::File> =
                (0..files.length()).filter_map(|i| files.get(i)).collect();
            input.set_value("");
            leptos::task::spawn_local(async move {
                problem.set(None);
                // Asked when needed, not as a resource: this composer renders inside the
                // thread's Transition, and an extra resource there breaks hydration order.
                let Ok(limits) = crate::wire::call(crate::api::messaging::MmsLimits {}).await
                else {
                    problem.set(Some(
                        "Pictures can't be attached right now; try again.".into(),
                    ));
                    return;
                };
                for file in files {
                    let name = file.name();
                    let size = file.size() as usize;
                    if !crate::types::MMS_IMAGE_TYPES.contains(&file.type_().as_str()) {
                        problem.set(Some(format!(
                            "{name}: only JPEG, PNG and GIF pictures can be sent by MMS."
                        )));
                        return;
                    }
                    let mut sizes: Vec<usize> =
                        attachments.get_untracked().iter().map(|a| a.size).collect();
                    sizes.push(size);
                    if let Some(why) = limits.check(&sizes) {
                        problem.set(Some(format!("{name}: {why}")));
                        return;
                    }
                    match upload(&file).await {
                        Ok(id) => {
                            attachments.update(|list| list.push(Attachment { id, name, size }))
                        }
                        Err(why) => {
                            problem.set(Some(format!("{name}: {why}")));
                            return;
                        }
                    }
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = input;
    };
    let counter = move || {
        let s = sms::count(&text.get());
        let encoding = match s.encoding {
            sms::Encoding::Gsm7 => "GSM-7",
            sms::Encoding::Ucs2 => "Unicode",
        };
        format!(
            "{} segment{} · {} left · {encoding}",
            s.segments,
            if s.segments == 1 { "" } else { "s" },
            s.remaining
        )
    };
    view! {
        <label for=id class="visually-hidden">{label}</label>
        <textarea
            id=id
            name="body"
            rows="3"
            required=move || attachments.with(Vec::is_empty)
            maxlength="1600"
            placeholder="Text message"
            aria-describedby=hint_id.clone()
            on:input=move |ev| text.set(event_target_value(&ev))
            prop:value=move || text.get()
        ></textarea>
        <p id=hint_id class="hint segments" aria-live="polite">{counter}</p>
        <label for=pictures_id.clone() class="attach">"Attach pictures"</label>
        <input id=pictures_id type="file" accept="image/jpeg,image/png,image/gif" multiple on:change=pick />
        {move || problem.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
        <ul class="attachments" aria-label="Attached pictures">
            {move || attachments.get().into_iter().enumerate().map(|(i, a)| {
                let remove_id = a.id.clone();
                view! {
                    <li>
                        <input type="hidden" name=format!("media[{i}]") value=a.id.clone() />
                        {format!("{} ({})", a.name, human_bytes(a.size))}
                        " "<button type="button" class="secondary" aria-label=format!("Remove {}", a.name)
                            on:click=move |_| attachments.update(|list| list.retain(|x| x.id != remove_id))>"Remove"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// Uploads one picture to `/media`; answers its id, or why not in plain words.
#[cfg(feature = "hydrate")]
async fn upload(file: &web_sys::File) -> Result<String, String> {
    let request = gloo_net::http::Request::post("/media")
        .header("content-type", &file.type_())
        .body(wasm_bindgen::JsValue::from(file.clone()))
        .map_err(|_| "the picture could not be read".to_string())?;
    let response = request
        .send()
        .await
        .map_err(|_| "no connection to the server".to_string())?;
    if response.status() == 201 {
        #[derive(miniserde::Deserialize)]
        struct Uploaded {
            id: String,
        }
        let unreadable = |_| "the server's answer was unreadable".to_string();
        let uploaded: Uploaded =
            miniserde::json::from_str(&response.text().await.map_err(|_| unreadable(()))?)
                .map_err(|_| unreadable(()))?;
        Ok(uploaded.id)
    } else {
        // A refusal is an `AppError`'s JSON, as from any server function.
        let text = response.text().await.unwrap_or_default();
        Err(crate::error::AppError::from_json(&text)
            .map(|e| e.to_string())
            .unwrap_or_else(|| "the upload failed".into()))
    }
}

#[component]
fn NewMessage() -> impl IntoView {
    let send = FormAction::new::<SendMessage>();
    let draft = Draft::emptied_by(send.result());
    let numbers = Loaded::new(|| MyNumbers {});
    view! {
        <details class="card compose">
            <summary>"New message"</summary>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match numbers.await {
                        Ok(list) if list.is_empty() => view! {
                            <p>"You need a number to send texts. " <a href="/numbers">"Get a number"</a></p>
                        }.into_any(),
                        Ok(list) => view! {
                            <PostForm action=send attr:class="stack">
                                <label for="from">"From"</label>
                                <select id="from" name="number_id">
                                    {list.into_iter().map(|n| {
                                        let label = if n.name.is_empty() { n.display.clone() } else { format!("{} ({})", n.name, n.display) };
                                        view! { <option value=n.id.clone()>{label}</option> }
                                    }).collect_view()}
                                </select>
                                <label for="to">"To"</label>
                                <input id="to" name="to" type="tel" autocomplete="tel" required placeholder="(212) 555-0123" />
                                <Composer id="new-body" label="Message" draft />
                                <FormError action=send />
                                <button type="submit">"Send"</button>
                            </PostForm>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </details>
    }
}

/// Search across messages: a GET form, so it works (and can be bookmarked) without JavaScript.
#[component]
fn Search() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let hits = Loaded::new(move || SearchMessages { query: q.get() });
    view! {
        <form method="get" action="/inbox" class="search" role="search">
            <label for="q" class="visually-hidden">"Search messages"</label>
            <input id="q" name="q" type="search" placeholder="Search messages" value=move || q.get() />
            <button type="submit" class="secondary">"Search"</button>
        </form>
        <Show when=move || !q.get().is_empty()>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match hits.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No messages match."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="hits" aria-label="Search results">
                                {list.into_iter().map(|h| view! {
                                    <li><a href=format!("/inbox/{}", h.conversation_id)>
                                        <strong>{h.peer_display}</strong>" "{h.body}
                                        <span class="meta">{format_instant(h.created_at)}</span>
                                    </a></li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </Show>
    }
}

#[component]
pub fn ThreadView() -> impl IntoView {
    let live = Live::get();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let changed = live.thread(id);
    // The server renders the thread without marking it read: that write, racing the list
    // and unread count the same page loads, made the page's renders disagree, and the
    // browser then hydrated one render's data into another's HTML (a panic, on opening a
    // thread with unread texts from a link or an alert). The browser marks it read, once
    // it shows it (below), and on every load after that.
    let mark_again = RwSignal::new(0u32);
    let thread = Loaded::new(move || {
        changed.get(); // read, not only tracked: a memo computes (and subscribes) when read
        mark_again.track();
        OpenThread {
            conversation_id: id.get(),
            mark_read: cfg!(feature = "hydrate"),
        }
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if matches!(thread.await, Ok(t) if t.conversation.unread > 0) {
                mark_again.update(|n| *n += 1);
            }
        });
    });
    let send = FormAction::new::<SendMessage>();
    let delete = FormAction::new::<DeleteConversation>();
    // One Transition per conversation. A reload of the one on screen (a text arriving, the
    // live stream catching up) updates it in place, so the reply being typed keeps its focus
    // (see pages/mod.rs). Another one opened shows "Loading…" until it is in: the last one's
    // forms, left on screen meanwhile, would have sent the new reply to (or deleted) it.
    move || {
        id.track();
        // Each conversation its own draft, kept through its reloads.
        let draft = Draft::emptied_by(send.result());
        view! {
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match thread.await {
                        // The last conversation's answer, still there when this one's view is
                        // made before its load has begun: its forms would send to (or delete)
                        // that one (CI saw its reply box under the new address). This runs
                        // again once the new answer is in.
                        Ok(t) if t.conversation.id != id.get_untracked() => {
                            view! { <p class="loading">"Loading…"</p> }.into_any()
                        }
                        Ok(t) => {
                            let c = t.conversation;
                            let via = if c.number_name.is_empty() { c.number_display.clone() } else { format!("{} ({})", c.number_name, c.number_display) };
                            let peer = c.peer.replace('+', "%2B");
                            // A named peer's number goes under the name; an unnamed one can be added.
                            let named = !c.peer_name.is_empty();
                            let line = if named { format!("{} · via {via}", c.peer_display) } else { format!("via {via}") };
                            let (contact_href, contact_words) = if named {
                                (format!("/contacts?q={peer}"), "Contact")
                            } else {
                                (format!("/contacts?add={peer}"), "Add to contacts")
                            };
                            view! {
                                <Title text=c.peer_label().to_string() />
                                <header class="thread-head">
                                    <a href="/inbox" class="back">"‹ Inbox"</a>
                                    <h2>{c.peer_label().to_string()}</h2>
                                    <p class="muted">{line}</p>
                                    <a class="button secondary" href=format!("/calls?to={peer}&from={}", c.number_id)>"Call"</a>
                                    <a class="button secondary" href=contact_href>{contact_words}</a>
                                </header>
                                <ol class="messages" aria-label="Messages" aria-live="polite">
                                    {t.messages.into_iter().map(|m| {
                                        let class = if m.outgoing { "bubble out" } else { "bubble in" };
                                        let status = m.status;
                                        view! {
                                            <li class=class data-status=status.as_str()>
                                                {(!m.media.is_empty()).then(|| pictures(m.media, m.outgoing))}
                                                {(!m.body.is_empty()).then(|| view! { <p class="text">{m.body}</p> })}
                                                <p class="meta">
                                                    {format_instant(m.created_at)}
                                                    {m.outgoing.then(|| view! {
                                                        " "<span class="ticks" title=status.label() aria-label=status.label()>{status.ticks()}</span>
                                                    })}
                                                </p>
                                                {m.failure.map(|why| view! { <p class="failure" role="note">{why}</p> })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                                {t.opted_out.then(|| view! {
                                    <p class="failure" role="note">"They opted out of texts from this number (replied STOP): nothing you send reaches them until they text START."</p>
                                })}
                                <PostForm action=send attr:class="reply">
                                    <input type="hidden" name="number_id" value=c.number_id.clone() />
                                    <input type="hidden" name="to" value=c.peer.clone() />
                                    <Composer id="reply-body" label="Reply" draft />
                                    <FormError action=send />
                                    <button type="submit">"Send"</button>
                                </PostForm>
                                <details class="danger-zone">
                                    <summary>"Delete conversation"</summary>
                                    <PostForm action=delete attr:class="inline">
                                        <input type="hidden" name="conversation_id" value=c.id.clone() />
                                        <p>"This deletes every message in it, here and on your other devices."</p>
                                        <button type="submit" class="danger">"Delete for good"</button>
                                    </PostForm>
                                </details>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        }
        .into_any()
    }
}

/// An MMS's pictures in its bubble: shown once kept, or what became of them.
fn pictures(media: Vec<MediaView>, outgoing: bool) -> impl IntoView {
    let alt = if outgoing {
        "Picture you sent"
    } else {
        "Picture received"
    };
    view! {
        <div class="pictures">
            {media.into_iter().map(|p| match p.state {
                MediaState::Stored => {
                    let src = format!("/media/{}", p.id);
                    let href = src.clone();
                    view! { <a href=href target="_blank" rel="noopener"><img src=src alt=alt loading="lazy" /></a> }.into_any()
                }
                MediaState::Pending => view! { <p class="picture-note">"Picture arriving…"</p> }.into_any(),
                MediaState::Failed => view! {
                    <p class="picture-note failure" role="note">"A picture could not be fetched from the carrier."</p>
                }.into_any(),
            }).collect_view()}
        </div>
    }
}
