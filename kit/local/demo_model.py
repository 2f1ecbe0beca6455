"""A tiny Llama-architecture SMOKE-TEST model with random weights, built locally in seconds.

It exists so the quick start and the tests can fine-tune and serve something real without
downloading weights: a byte-level BPE tokenizer trained with `tokenizers` on the small fixed
corpus below (plain English plus clinical-admin vocabulary, written for this kit, no PHI), the
kit's ChatML template, and a randomly initialised LlamaForCausalLM. It knows nothing until it is
fine-tuned; it is never a model to deploy. Deterministic for a given seed and shape.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = """\
Good morning. Thank you for calling the clinic. How can I help you today?
I would like to schedule a follow-up visit with my primary care physician next week.
Please confirm the patient's date of birth, insurance member ID and the name of the referring provider.
The front desk checks in each patient, verifies insurance eligibility and collects the copay.
A prior authorization is a request the practice sends to the health plan before a service is provided.
The payer reviews medical necessity and returns an approval, a denial or a request for more information.
Submit the prior authorization with the diagnosis codes, the procedure codes and the clinical notes.
If the request is denied, the office may file an appeal with a letter of medical necessity.
A SOAP note has four parts: Subjective, Objective, Assessment and Plan.
Subjective records the patient's own words: the chief complaint, the history of present illness and symptoms.
Objective records measurable findings: vital signs, physical examination, laboratory results and imaging.
Assessment states the clinician's diagnosis or differential diagnosis.
Plan lists the next steps: medications, tests, referrals, patient education and follow-up.
Billing uses two code sets. ICD-10-CM codes describe the diagnosis. CPT codes describe the procedure or service.
HCPCS Level II codes cover supplies, durable medical equipment and some drugs.
An evaluation and management visit is billed with an E/M code such as 99213 or 99214, chosen by medical decision making or time.
Modifiers such as 25 or 59 tell the payer that a service was separate or distinct.
A claim is sent to the clearinghouse, which checks the format and forwards it to the payer.
The payer sends back an explanation of benefits and an electronic remittance advice.
A claim can be denied for a missing prior authorization, an invalid code, a timely filing limit or a coverage issue.
Coding staff review the documentation, correct the codes and resubmit the claim.
The revenue cycle runs from scheduling and registration to charge capture, claim submission, payment posting and collections.
A referral sends the patient to a specialist; the specialist's office needs the referral number and the visit notes.
Discharge instructions explain medications, warning signs, diet, activity and when to return.
Medication reconciliation compares the current medication list with new prescriptions at every transition of care.
The care coordinator calls the patient two days after discharge to review the plan and answer questions.
Protected health information must stay inside the organization's network and is shared only on a need-to-know basis.
Minimum necessary: use and disclose only the information needed for the task.
Please summarize the visit in plain language for the patient portal.
Here is a short summary. The patient came in for a routine follow-up. Blood pressure is well controlled.
Continue the current medication, check labs in three months and return for a visit in six months.
Can you draft a letter to the insurance company? Certainly. Dear claims reviewer, we are writing to request reconsideration.
What does this denial code mean? It means the service requires prior authorization that was not on file.
Which CPT code fits a new patient visit? Use a new patient E/M code, for example 99203, if documentation supports it.
Which ICD-10 code describes type 2 diabetes without complications? E11.9 describes type 2 diabetes mellitus without complications.
Hypertension is coded I10. Hyperlipidemia is coded E78.5. An annual wellness visit uses its own HCPCS codes.
The nurse documents the chief complaint, allergies, current medications and vital signs before the provider enters the room.
Vital signs include temperature, pulse, respiratory rate, blood pressure, oxygen saturation, height and weight.
The provider reviews the results, updates the problem list and signs the note.
Orders for laboratory tests and imaging are entered in the electronic health record.
The scheduler offers the first available appointment and sends a reminder by text message.
The weather is mild today. The train leaves at nine. The library opens at ten and closes at six.
She wrote a short answer, read it again, and sent it. He asked a clear question and waited for the reply.
Yes. No. Please. Thank you. You are welcome. Hello. Goodbye. Sorry, I do not know. Let me check.
One, two, three, four, five, six, seven, eight, nine, ten. Monday, Tuesday, Wednesday, Thursday, Friday.
The quick brown fox jumps over the lazy dog. A small step each day adds up to a long way.
The user asks and the assistant answers; a system message sets the rules for the assistant.
Answer in one short sentence. Explain it step by step. Give three examples. Keep it brief and polite.
"""


def _train_tokenizer(vocab_size: int):
    """Byte-level BPE on CORPUS. The merges are identical on every run whatever the library's
    thread count (pairs are counted exactly, each merge the most frequent, ties broken by the
    pair): tests/unit/test_demo_models.py trains it single- and multi-threaded."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return tok


def build_tiny_llama(
    out_dir: str | Path,
    *,
    seed: int = 0,
    hidden_size: int = 256,
    num_layers: int = 4,
    vocab_size: int = 2048,
    num_heads: int = 4,
    max_positions: int = 1024,
    init_std: float = 0.1,
) -> Path:
    """Write a random-weight Llama + tokenizer (+ ChatML template) to out_dir; return the folder.

    The tokenizer's vocabulary is at most `vocab_size` (the corpus may support fewer merges);
    the model's embedding matches the tokenizer exactly. `init_std` is the weights' normal
    init scale: 0.1 rather than transformers' 0.02, so the tied embeddings give logits a usable
    range from the start; the quick start then learns its phrases within a few epochs on CPU,
    and LoRA (which cannot retrain embeddings) can lower the loss at all.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from kit.terminal import quiet_when_captured
    from kit.trainer.chat import kit_templates, strip_markers

    quiet_when_captured()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = _train_tokenizer(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=max_positions,
    )
    tokenizer.chat_template = strip_markers(kit_templates()["chatml.jinja"])
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 8 // 3 // 16 * 16 or 16,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
        initializer_range=init_std,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(
        "# tiny-llama (smoke-test model)\n\nRandom weights, built by `kit.local.demo_model.build_tiny_llama`"
        f" (seed {seed}). For tests and the quick start only: it knows nothing until fine-tuned.\n",
        encoding="utf-8",
    )
    return out
