// Owns the catalogue of appeal themes and their labels in every language we
// speak. Appeals may carry any slug (`^[a-z0-9-]{2,40}$`); only catalogue
// slugs have translated labels. Pages show a slug as words only when it is
// in this catalogue or used by a public appeal, never because a requester
// chose it (see the subscription pages).
import type { Locale } from './index.js'

type Labels = Record<Locale, string>

const CATALOGUE = {
  'arbitrary-detention': { en: 'Arbitrary detention', fr: 'Détention arbitraire', es: 'Detención arbitraria', ko: '자의적 구금', 'zh-Hans': '任意拘留' },
  'armed-conflict': { en: 'Armed conflict', fr: 'Conflits armés', es: 'Conflictos armados', ko: '무력 분쟁', 'zh-Hans': '武装冲突' },
  children: { en: 'Children', fr: 'Enfants', es: 'Niñas y niños', ko: '아동', 'zh-Hans': '儿童' },
  'death-penalty': { en: 'Death penalty', fr: 'Peine de mort', es: 'Pena de muerte', ko: '사형', 'zh-Hans': '死刑' },
  detention: { en: 'Detention', fr: 'Détention', es: 'Detención', ko: '구금', 'zh-Hans': '拘留' },
  disability: { en: 'Disability rights', fr: 'Droits des personnes handicapées', es: 'Derechos de las personas con discapacidad', ko: '장애인 인권', 'zh-Hans': '残障人士权利' },
  discrimination: { en: 'Discrimination', fr: 'Discrimination', es: 'Discriminación', ko: '차별', 'zh-Hans': '歧视' },
  'enforced-disappearance': { en: 'Enforced disappearance', fr: 'Disparitions forcées', es: 'Desaparición forzada', ko: '강제실종', 'zh-Hans': '强迫失踪' },
  environment: { en: 'Environment and climate', fr: 'Environnement et climat', es: 'Medio ambiente y clima', ko: '환경과 기후', 'zh-Hans': '环境与气候' },
  'fair-trial': { en: 'Fair trial', fr: 'Procès équitable', es: 'Juicio justo', ko: '공정한 재판', 'zh-Hans': '公正审判' },
  'freedom-of-assembly': { en: 'Freedom of assembly', fr: 'Liberté de réunion', es: 'Libertad de reunión', ko: '집회의 자유', 'zh-Hans': '集会自由' },
  'freedom-of-association': { en: 'Freedom of association', fr: "Liberté d'association", es: 'Libertad de asociación', ko: '결사의 자유', 'zh-Hans': '结社自由' },
  'freedom-of-expression': { en: 'Freedom of expression', fr: "Liberté d'expression", es: 'Libertad de expresión', ko: '표현의 자유', 'zh-Hans': '表达自由' },
  'freedom-of-religion': { en: 'Freedom of religion', fr: 'Liberté de religion', es: 'Libertad de religión', ko: '종교의 자유', 'zh-Hans': '宗教自由' },
  health: { en: 'Right to health', fr: 'Droit à la santé', es: 'Derecho a la salud', ko: '건강권', 'zh-Hans': '健康权' },
  housing: { en: 'Right to housing', fr: 'Droit au logement', es: 'Derecho a la vivienda', ko: '주거권', 'zh-Hans': '住房权' },
  'human-rights-defenders': { en: 'Human rights defenders', fr: 'Défenseurs des droits humains', es: 'Defensores de derechos humanos', ko: '인권옹호자', 'zh-Hans': '人权捍卫者' },
  'indigenous-peoples': { en: 'Indigenous peoples', fr: 'Peuples autochtones', es: 'Pueblos indígenas', ko: '원주민', 'zh-Hans': '原住民' },
  journalists: { en: 'Journalists', fr: 'Journalistes', es: 'Periodistas', ko: '언론인', 'zh-Hans': '记者' },
  lgbti: { en: 'LGBTI rights', fr: 'Droits des personnes LGBTI', es: 'Derechos LGBTI', ko: 'LGBTI 인권', 'zh-Hans': 'LGBTI 权利' },
  'prison-conditions': { en: 'Prison conditions', fr: 'Conditions carcérales', es: 'Condiciones penitenciarias', ko: '수감 환경', 'zh-Hans': '监狱条件' },
  refoulement: { en: 'Refoulement (forced return)', fr: 'Refoulement', es: 'Devolución (refoulement)', ko: '강제송환', 'zh-Hans': '驱回（强制遣返）' },
  'refugees-and-migrants': { en: 'Refugees and migrants', fr: 'Réfugiés et migrants', es: 'Personas refugiadas y migrantes', ko: '난민과 이주민', 'zh-Hans': '难民和移民' },
  torture: { en: 'Torture', fr: 'Torture', es: 'Tortura', ko: '고문', 'zh-Hans': '酷刑' },
  'unlawful-killings': { en: 'Unlawful killings', fr: 'Homicides illégaux', es: 'Homicidios ilegítimos', ko: '불법적 살해', 'zh-Hans': '非法杀戮' },
  women: { en: "Women's rights", fr: 'Droits des femmes', es: 'Derechos de las mujeres', ko: '여성 인권', 'zh-Hans': '妇女权利' },
  'workers-rights': { en: "Workers' rights", fr: 'Droits des travailleurs', es: 'Derechos laborales', ko: '노동권', 'zh-Hans': '劳工权利' },
} satisfies Record<string, Labels>

/** Catalogue slugs, alphabetical; every one matches `^[a-z0-9-]{2,40}$`. */
export const THEMES: readonly string[] = Object.freeze(Object.keys(CATALOGUE).sort())

const BY_SLUG: ReadonlyMap<string, Labels> = new Map(Object.entries(CATALOGUE))

export function isCatalogueTheme(slug: string): boolean {
  return BY_SLUG.has(slug)
}

/** The catalogue label in that language; a slug outside the catalogue as words (`land-rights` → `land rights`). */
export function themeLabel(locale: Locale, slug: string): string {
  return BY_SLUG.get(slug)?.[locale] ?? slug.replace(/-/g, ' ')
}
